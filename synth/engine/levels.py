"""How loud a preset plays: the output gain that sets its level, measured by the engine, and a
preset's string moved onto another body at that level.

Every shipped and exported preset is set so that a velocity-100 note at its reference pitch
peaks at LEVEL_DBFS in its own output (the instrument for a preset with a body, else the bare
string): presets then play at about the same loudness, with headroom for chords.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from synth.bodies import Body
from synth.engine.engine import Engine
from synth.presets import Preset

LEVEL_DBFS = -12.0  # a velocity-100 note at the reference pitch peaks here


def level_gain(preset: Preset) -> float:
    """The output gain at which a velocity-100 note at the preset's reference pitch peaks at
    LEVEL_DBFS, measured by playing it for a second at 48 kHz, to 3 significant digits (so
    the rounding of the float32 kernels, which differs from one machine and compiler to
    another, cannot change a preset file)."""
    engine = Engine(dataclasses.replace(preset, output_gain=1.0), fs=48000, polyphony=2)
    engine.note_on(round(preset.reference_note), 100)
    peak = float(np.abs(engine.process(48000)).max())
    return float(f"{10 ** (LEVEL_DBFS / 20) / peak:.3g}") if peak > 0 else 1.0


def on_body(preset: Preset, body: Body | None, name: str | None = None) -> Preset:
    """`preset`'s string on `body` (None: the bare string), named `name` (default: its own),
    its output gain measured again for what it now plays."""
    moved = dataclasses.replace(preset, body=body, name=name or preset.name, path=None)
    return dataclasses.replace(moved, output_gain=level_gain(moved))
