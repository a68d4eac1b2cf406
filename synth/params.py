"""The engine's live parameters: one record per control, and the one table of them.

Every parameter is a float in a target array written by the control side (API, MIDI, GUI)
and read by the audio thread, which smooths it from block to block and ramps the string's
coefficients inside each block. A parameter's record says everything about its meaning:

- range, default and unit; values outside the range are clamped, never refused, so a wild
  knob or a bad MIDI value cannot break a running voice;
- smoothing: multiplicative (in the log domain) for tension, decay and brightness, linear
  for the rest of the continuous ones (pitch bend is in semitones, so its ramp is
  multiplicative in frequency), none for discrete choices;
- whether moving it retunes the sounding strings (`retunes`);
- how a knob or slider maps onto its range (`knob`: "linear" or "log");
- whether a MIDI controller may drive it (`assignable`).

Which model kinds ignore a parameter is the kind's to say (`synth.kinds.Kind.ignores`).
This module imports nothing of the engine, so presets and the window can use it alone.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from synth.errors import ParameterError

SMOOTH_NONE, SMOOTH_LINEAR, SMOOTH_LOG = 0, 1, 2


@dataclass(frozen=True)
class Param:
    """One live parameter: its id in the arrays, range, default, unit, smoothing, whether it
    retunes the strings, its knob mapping and whether a controller may drive it."""

    id: int
    name: str
    minimum: float
    maximum: float
    default: float
    unit: str
    smoothing: int
    retunes: bool
    knob: str
    assignable: bool
    description: str

    def clamp(self, value: float) -> float:
        return min(max(float(value), self.minimum), self.maximum)


_LIN, _LOG, _NONE = SMOOTH_LINEAR, SMOOTH_LOG, SMOOTH_NONE
_DEFINITIONS = [
    # name, min, max, default, unit, smoothing, retunes, knob, assignable, description
    ("tension", 0.25, 4.0, 1.0, "x", _LOG, True, "log", True,
     "string tension as a factor of the preset's; pitch follows its square root"),
    ("stiffness", 0.0, 8.0, 1.0, "x", _LIN, True, "linear", True,
     "bending stiffness (Young's modulus) as a factor of the preset's: inharmonicity"),
    ("decay", 0.05, 20.0, 1.0, "x", _LOG, True, "log", True,
     "decay time as a factor of the preset's T60 at every frequency"),
    ("brightness", 0.05, 20.0, 1.0, "x", _LOG, True, "log", True,
     "high-frequency decay time as a factor of the preset's (frequency-dependent damping)"),
    ("nonlinearity", 0.0, 4.0, 1.0, "x", _LIN, True, "linear", True,
     "strength of the geometric nonlinearity as a factor of the preset's: pitch glide"),
    ("pluck_position", 0.02, 0.5, 0.2, "of length", _NONE, False, "linear", True,
     "where notes are excited, as a fraction of the string length from the bridge"),
    ("pickup_position", 0.02, 0.98, 0.8, "of length", _LIN, True, "linear", True,
     "where the string is listened to, as a fraction of its length"),
    ("excitation", 0.0, 2.0, 0.0, "", _NONE, False, "linear", False,
     "excitation type: 0 pluck, 1 strike, 2 the preset's hammer (a strike without one)"),
    ("excitation_width", 0.05, 5.0, 1.0, "ms", _NONE, False, "linear", True,
     "contact time of a force pulse (a strike, or a pluck of a string no finger holds); "
     "shorter is brighter"),
    ("gain", -60.0, 12.0, 0.0, "dB", _LIN, False, "linear", True,
     "master gain before the limiter"),
    ("velocity_sensitivity", 0.0, 1.0, 0.6, "", _NONE, False, "linear", False,
     "0: every note at full force; 1: force grows with the cube of the velocity"),
    ("bend_range", 0.0, 24.0, 2.0, "semitones", _NONE, True, "linear", False,
     "pitch-bend range"),
    ("damper", 0.02, 10.0, 0.3, "s", _NONE, True, "linear", False,
     "T60 of a released note (the damper)"),
    ("pitch_bend", -1.0, 1.0, 0.0, "", _LIN, True, "linear", False,
     "pitch wheel, -1 to 1; linear in semitones, so multiplicative in frequency"),
    ("sustain", 0.0, 1.0, 0.0, "", _NONE, False, "linear", False,
     "sustain pedal, 0 up, 1 down (CC64)"),
    ("output", 0.0, 2.0, 0.0, "", _NONE, False, "linear", False,
     "what is heard: 0 the instrument (bridge, body, two microphones), 1 a pickup (the "
     "string's velocity at the pickup position), 2 the bare string (its displacement there)"),
    ("body_size", 0.5, 2.0, 1.0, "x", _LOG, False, "log", True,
     "the body's size as a factor of the preset's: its mode frequencies scale by 1 / size"),
    ("body_damping", 0.25, 4.0, 1.0, "x", _LOG, False, "log", True,
     "the body modes' damping (decay rates) as a factor of the preset's"),
    ("body_mix", 0.0, 1.0, 0.95, "", _LIN, False, "linear", True,
     "balance of the instrument's output: 0 the direct sound of the bridge, 1 the body's"),
    ("plectrum", 0.0, 1.0, 0.0, "", _NONE, False, "linear", False,
     "what plucks a held string: 0 a finger (wide, soft), 1 a plectrum"),
    ("plectrum_stiffness", 100.0, 3000.0, 500.0, "N/m", _NONE, False, "log", True,
     "the plectrum's bending stiffness at its tip: stiffer springs back faster, so a pluck "
     "slower than the tip lets go faster and is brighter"),
]

PARAMS: dict[str, Param] = {
    row[0]: Param(i, *row) for i, row in enumerate(_DEFINITIONS)}
N_PARAMS = len(PARAMS)
(TENSION, STIFFNESS, DECAY, BRIGHTNESS, NONLINEARITY, PLUCK_POSITION, PICKUP_POSITION,
 EXCITATION, EXCITATION_WIDTH, GAIN, VELOCITY_SENSITIVITY, BEND_RANGE, DAMPER, PITCH_BEND,
 SUSTAIN, OUTPUT, BODY_SIZE, BODY_DAMPING, BODY_MIX, PLECTRUM, PLECTRUM_STIFFNESS) = range(
    N_PARAMS)
ACOUSTIC, PICKUP, BARE = 0, 1, 2  # the values of OUTPUT
# the velocity sensitivity at which a hammer's speed spans its whole published range
FULL_RANGE_SENSITIVITY = PARAMS["velocity_sensitivity"].default


def output_of(value: float) -> int:
    """The output (ACOUSTIC, PICKUP or BARE) that a value of the `output` control selects:
    the nearest, halves rounding up."""
    return min(max(int(value + 0.5), ACOUSTIC), BARE)

# The pickup output is the string's velocity at the pickup over omega_1 of its note, times this
# level, so that a plucked note peaks about as high as its bare string.
PICKUP_LEVEL = 0.3
# Parameters a MIDI CC may drive (CC1, CC74 assignments): the continuous musical ones.
ASSIGNABLE = tuple(name for name, p in PARAMS.items() if p.assignable)
# MIDI controllers with a fixed meaning in the engine (never reassigned), and the two that
# drive a parameter until reassigned (CC1 the nonlinearity, CC74 the brightness)
SUSTAIN_PEDAL, ALL_SOUND_OFF_CC, RESET_CONTROLLERS, ALL_NOTES_OFF_CC = 64, 120, 121, 123
FIXED_CONTROLLERS = (SUSTAIN_PEDAL, ALL_SOUND_OFF_CC, RESET_CONTROLLERS, ALL_NOTES_OFF_CC)
MODULATION_WHEEL, BRIGHTNESS_CC = 1, 74


def param(name: str) -> Param:
    """The parameter called `name`, or a ParameterError listing the known ones."""
    try:
        return PARAMS[name]
    except (KeyError, TypeError):
        raise ParameterError(f"unknown parameter {name!r}; known: "
                             f"{', '.join(PARAMS)}") from None


def check_value(name: str, value: float) -> float:
    """value as a finite float (the caller or the audio side clamps it), else
    ParameterError."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(value, bool | str) or not math.isfinite(number):
        raise ParameterError(f"{name} must be a finite number, got {value!r}")
    return number


def knob_value(name: str, position: float) -> float:
    """The value of parameter `name` for a knob at `position` (0..127) on its range."""
    p = PARAMS[name]
    fraction = min(max(position / 127.0, 0.0), 1.0)
    if p.knob == "log":
        return p.minimum * (p.maximum / p.minimum) ** fraction
    return p.minimum + fraction * (p.maximum - p.minimum)


def knob_position(name: str, value: float) -> float:
    """Where a knob (0..127) stands for parameter `name` at `value`; the inverse of
    `knob_value`."""
    p = PARAMS[name]
    value = p.clamp(value)
    if p.knob == "log":
        fraction = math.log(value / p.minimum) / math.log(p.maximum / p.minimum)
    else:
        fraction = (value - p.minimum) / (p.maximum - p.minimum)
    return 127.0 * fraction


MIN_RATE, MAX_RATE = 8000.0, 384000.0  # Hz: the sample rates the engine plays
MAX_POLYPHONY = 256  # voices an engine may be built with


def check_rate(fs) -> float:
    """fs as a float if it is a sample rate the engine plays (8 to 384 kHz), else
    ParameterError."""
    if isinstance(fs, bool) or not isinstance(fs, numbers.Real) or \
            not MIN_RATE <= fs <= MAX_RATE:
        raise ParameterError(f"the sample rate must be between {MIN_RATE:g} and {MAX_RATE:g} "
                             f"Hz, got {fs!r}")
    return float(fs)
