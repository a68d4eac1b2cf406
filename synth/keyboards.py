"""How an instrument makes each of its notes: the string and the excitation of every key, as a
preset holds them (a piano's scale, a guitar's strings and frets).

A keyboard gives each MIDI note 0..127 the normalised string that plays it and how that
string is set in motion:

    keyboard.strings    (128, 11): gamma, kappa, nu (1/s), gamma tuned to the note at
                        tension 1 (the engine tunes again, with the live controls), then
                        the string's losses: sigma0, sigma1 (1/s), air (1/s^(1/2)),
                        friction, bending (loss factors), bridge, bridge_mass (s), and
                        the mistuning of the key's unisons (cents rms; 0 for one string)
                        (`synth.physics.losses`)
    keyboard.excitation (128, 10): position (0..1), amplitude (normalised force of a pulse at
                        velocity 127), and its hammer: mass ratio, felt, felt exponent,
                        contact half-width (0..1), softest and hardest speed (1/s); mass 0
                        for a key without a hammer (`synth.physics.hammer` for the units);
                        then the normalised force a finger's pluck holds it with at
                        velocity 127 (`synth.physics.pluck`; 0: no held pluck) and how
                        far it moves to slip off (a fraction of the length)

Notes beyond the instrument's `range` play the nearest key's string. A preset without a
keyboard plays every note on its one string (`single_string`), retuned by its tension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from synth.errors import PresetError

KEYS = 128
STRING_FIELDS = ("gamma", "kappa", "nu", "sigma0", "sigma1", "air", "friction", "bending",
                 "bridge", "bridge_mass", "mistuning")
EXCITATION_FIELDS = ("position", "amplitude", "hammer_mass", "felt", "felt_exponent",
                     "half_width", "speed_soft", "speed_hard", "hold", "slip")
GAMMA, KAPPA, NU, SIGMA0 = range(4)  # the losses follow from SIGMA0 on
MISTUNING = STRING_FIELDS.index("mistuning")
MAX_MISTUNING = 10.0  # cents: unisons further apart are not one note (and the kernels' coupled
                      # modes keep their stability margin)
(POSITION, AMPLITUDE, HAMMER_MASS, FELT, FELT_EXPONENT, HALF_WIDTH, SPEED_SOFT,
 SPEED_HARD, HOLD, SLIP) = range(10)
TENSORS = ("keyboard.strings", "keyboard.excitation")
MAX_VALUE = 1e16  # the felt's normalised stiffness reaches 1e13 in the treble


@dataclass(frozen=True, eq=False)
class Keyboard:
    """strings (128, 11) and excitation (128, 10) as in the module docstring; range (low,
    high) the MIDI notes the instrument has; name and provenance say where the numbers come
    from."""

    strings: np.ndarray
    excitation: np.ndarray
    range: tuple[float, float] = (21.0, 108.0)
    name: str = ""
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for fault in self.faults():
            raise PresetError(f"keyboard: {fault}")

    def faults(self) -> list[str]:
        """What makes this keyboard unplayable, one line each (none: it plays)."""
        s, e = self.strings, self.excitation
        if s.shape != (KEYS, len(STRING_FIELDS)) or e.shape != (KEYS, len(EXCITATION_FIELDS)):
            return [f"strings must have shape ({KEYS}, {len(STRING_FIELDS)}) and excitation "
                    f"({KEYS}, {len(EXCITATION_FIELDS)}), got {s.shape} and {e.shape}"]
        if not (np.isfinite(s).all() and np.isfinite(e).all()):
            return ["strings and excitation must be finite"]
        faults = []
        if (s[:, GAMMA] <= 0).any() or (s < 0).any() or (s > MAX_VALUE).any():
            faults.append(f"strings must be >= 0 (gamma > 0) and at most {MAX_VALUE:g}")
        if not ((e[:, POSITION] > 0) & (e[:, POSITION] < 1)).all():
            faults.append("excitation positions must lie strictly inside (0, 1)")
        if (e < 0).any() or (e > MAX_VALUE).any():
            faults.append(f"excitation values must lie in [0, {MAX_VALUE:g}]")
        hammered = e[:, HAMMER_MASS] > 0
        if (hammered & ((e[:, FELT_EXPONENT] < 1) | (e[:, SPEED_SOFT] <= 0)
                        | (e[:, SPEED_SOFT] > e[:, SPEED_HARD]))).any():
            faults.append("a key's hammer needs a felt exponent >= 1 and speeds 0 < softest "
                          "<= hardest")
        if (s[:, MISTUNING] > MAX_MISTUNING).any():
            faults.append(f"unisons may be mistuned by at most {MAX_MISTUNING:g} cents")
        if ((e[:, HOLD] > 0) & (e[:, SLIP] <= 0)).any():
            faults.append("a key whose pluck holds its string needs a slip > 0")
        return faults + range_faults(self.range)

    def tensors(self) -> dict[str, np.ndarray]:
        """The keyboard's tensors as a preset file stores them (float64)."""
        return dict(zip(TENSORS, (self.strings, self.excitation), strict=True))

    def description(self) -> dict:
        return {"name": self.name, "range": list(self.range), "provenance": self.provenance}

    def hammered(self) -> bool:
        """Whether its keys are struck by hammers."""
        return bool((self.excitation[:, HAMMER_MASS] > 0).any())


def key_inharmonicity(row: np.ndarray) -> float:
    """B of the string a row of `Keyboard.strings` holds: (kappa pi / gamma)^2."""
    return float((row[KAPPA] * math.pi / row[GAMMA]) ** 2)


def note_range(description: dict, part: str) -> tuple[float, float]:
    """The (low, high) MIDI notes of a preset description's `part` ("body", "keyboard"),
    [21, 108] if it names none; PresetError if it is not two numbers."""
    low_high = description.get("range", [21.0, 108.0])
    if not (isinstance(low_high, list) and len(low_high) == 2
            and all(isinstance(x, int | float) and not isinstance(x, bool) for x in low_high)):
        raise PresetError(f"{part}: range must be [low, high] MIDI notes, got "
                          f"{low_high!r:.40}")
    return float(low_high[0]), float(low_high[1])


def range_faults(low_high: tuple[float, float]) -> list[str]:
    """What is wrong with a range of MIDI notes (none: 0 <= low < high <= 127)."""
    low, high = low_high
    if math.isfinite(low) and math.isfinite(high) and 0 <= low < high <= 127:
        return []
    return [f"range must be two MIDI notes, low < high, got {low_high!r}"]


def single_string(string: np.ndarray, excitation: np.ndarray) -> Keyboard:
    """Every note on one string: `string` (11,) and `excitation` (10,) on every key."""
    return Keyboard(np.tile(np.asarray(string, np.float64), (KEYS, 1)),
                    np.tile(np.asarray(excitation, np.float64), (KEYS, 1)), (0.0, 127.0))


# The widths of the first keyboards' tables, strings and excitation (before the losses, the
# unisons and the held pluck), which load with those fields zero: sigma0 + sigma1 beta^2
# alone, one string a key, no hold
FIRST_WIDTHS = (5, 8)


def _widened(table: np.ndarray, first: int, width: int) -> np.ndarray:
    """An earlier keyboard's (128, w) table, first <= w < width, padded with zero fields to
    `width`; any other table as it is."""
    if table.ndim == 2 and first <= table.shape[1] < width:
        return np.hstack([table, np.zeros((table.shape[0], width - table.shape[1]))])
    return table


def keyboard_from_file(description: dict, tensors: dict[str, np.ndarray]) -> Keyboard:
    """The keyboard a preset file describes; PresetError says what is missing or wrong."""
    if not isinstance(description, dict):
        raise PresetError(f"keyboard must be a JSON object, got {description!r:.40}")
    missing = [name for name in TENSORS if name not in tensors]
    if missing:
        raise PresetError(f"keyboard: missing tensor(s) {missing}")
    provenance = description.get("provenance", {})
    strings, excitation = (
        _widened(np.asarray(tensors[name], dtype=np.float64), first, len(fields))
        for name, first, fields in zip(TENSORS, FIRST_WIDTHS, (STRING_FIELDS, EXCITATION_FIELDS),
                                       strict=True))
    if np.asarray(tensors[TENSORS[1]]).shape[1:] == (SLIP,):  # held plucks saved without
        excitation[:, HOLD] = 0.0  # their slip: plucked by the pulse instead
    return Keyboard(strings, excitation,
                    range=note_range(description, "keyboard"),
                    name=str(description.get("name", "")),
                    provenance=provenance if isinstance(provenance, dict) else {})
