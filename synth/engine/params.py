"""The engine's live parameters: ids, ranges, defaults, units and how each is smoothed.

Every parameter is a float in a target array written by the control side (API, MIDI, GUI)
and read by the audio thread, which smooths it from block to block and ramps the string's
coefficients inside each block: multiplicatively (in the log domain) for tension, decay and
brightness, linearly for the rest of the continuous ones (pitch bend is in semitones, so its
ramp is multiplicative in frequency), and not at all for discrete choices. Values outside a
parameter's range are clamped, never refused, so a wild knob or a bad MIDI value cannot break
a running voice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from synth.errors import ParameterError

SMOOTH_NONE, SMOOTH_LINEAR, SMOOTH_LOG = 0, 1, 2


@dataclass(frozen=True)
class Param:
    """One live parameter: its id in the arrays, range, default, unit and smoothing."""

    id: int
    name: str
    minimum: float
    maximum: float
    default: float
    unit: str
    smoothing: int
    description: str

    def clamp(self, value: float) -> float:
        return min(max(float(value), self.minimum), self.maximum)


_DEFINITIONS = [
    # name, min, max, default, unit, smoothing, description
    ("tension", 0.25, 4.0, 1.0, "x", SMOOTH_LOG,
     "string tension as a factor of the preset's; pitch follows its square root"),
    ("stiffness", 0.0, 8.0, 1.0, "x", SMOOTH_LINEAR,
     "bending stiffness (Young's modulus) as a factor of the preset's: inharmonicity"),
    ("decay", 0.05, 20.0, 1.0, "x", SMOOTH_LOG,
     "decay time as a factor of the preset's T60 at every frequency"),
    ("brightness", 0.05, 20.0, 1.0, "x", SMOOTH_LOG,
     "high-frequency decay time as a factor of the preset's (frequency-dependent damping)"),
    ("nonlinearity", 0.0, 4.0, 1.0, "x", SMOOTH_LINEAR,
     "strength of the geometric nonlinearity as a factor of the preset's: pitch glide"),
    ("pluck_position", 0.02, 0.5, 0.2, "of length", SMOOTH_NONE,
     "where notes are excited, as a fraction of the string length from the bridge"),
    ("pickup_position", 0.02, 0.98, 0.8, "of length", SMOOTH_LINEAR,
     "where the string is listened to, as a fraction of its length"),
    ("excitation", 0.0, 1.0, 0.0, "", SMOOTH_NONE, "excitation type: 0 pluck, 1 strike"),
    ("excitation_width", 0.05, 5.0, 1.0, "ms", SMOOTH_NONE,
     "contact time of the pluck or strike; shorter is brighter"),
    ("gain", -60.0, 12.0, 0.0, "dB", SMOOTH_LINEAR, "master gain before the limiter"),
    ("velocity_sensitivity", 0.0, 1.0, 0.6, "", SMOOTH_NONE,
     "0: every note at full force; 1: force grows with the cube of the velocity"),
    ("bend_range", 0.0, 24.0, 2.0, "semitones", SMOOTH_NONE, "pitch-bend range"),
    ("damper", 0.02, 10.0, 0.3, "s", SMOOTH_NONE, "T60 of a released note (the damper)"),
    ("pitch_bend", -1.0, 1.0, 0.0, "", SMOOTH_LINEAR,
     "pitch wheel, -1 to 1; linear in semitones, so multiplicative in frequency"),
    ("sustain", 0.0, 1.0, 0.0, "", SMOOTH_NONE, "sustain pedal, 0 up, 1 down (CC64)"),
]

PARAMS: dict[str, Param] = {
    name: Param(i, name, lo, hi, default, unit, smoothing, text)
    for i, (name, lo, hi, default, unit, smoothing, text) in enumerate(_DEFINITIONS)}
N_PARAMS = len(PARAMS)
IDS = {name: param.id for name, param in PARAMS.items()}
(TENSION, STIFFNESS, DECAY, BRIGHTNESS, NONLINEARITY, PLUCK_POSITION, PICKUP_POSITION,
 EXCITATION, EXCITATION_WIDTH, GAIN, VELOCITY_SENSITIVITY, BEND_RANGE, DAMPER, PITCH_BEND,
 SUSTAIN) = range(N_PARAMS)

# Parameters a MIDI CC may drive (CC1, CC74 assignments): the continuous musical ones.
ASSIGNABLE = ("tension", "stiffness", "decay", "brightness", "nonlinearity", "pluck_position",
              "pickup_position", "excitation_width", "gain")


def param(name: str) -> Param:
    """The parameter called `name`, or a ParameterError listing the known ones."""
    try:
        return PARAMS[name]
    except KeyError:
        raise ParameterError(f"unknown parameter {name!r}; known: "
                             f"{', '.join(PARAMS)}") from None


def defaults() -> list[float]:
    return [p.default for p in PARAMS.values()]


def smoothing_modes() -> list[int]:
    return [p.smoothing for p in PARAMS.values()]


def check_value(name: str, value: float) -> float:
    """value as a finite float (clamping happens on the audio side), else ParameterError."""
    value = float(value)
    if not math.isfinite(value):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    return value
