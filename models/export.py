"""`neural-strings export RUN OUT.safetensors`: a training run becomes a playable preset.

The preset (kind `sav-gradnet`) carries the GradNet weights and, in its provenance, the
recipe, the dataset and its hash, the training time and steps, and (with a test set) the
measured test metrics. Its string defaults are the centre of the training ranges; the engine
retunes gamma per note, and tension, stiffness and damping stay live controls.
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path

import numpy as np
import torch

from models.gradnet import GradNetPotential
from models.train import CHECKPOINT, read_checkpoint
from synth.dataset import DatasetConfig
from synth.engine import Engine
from synth.errors import ParameterError
from synth.physics.strings import StringParams, note_frequency
from synth.presets import Preset, save_preset

PEAK_DBFS = -12.0  # a velocity-100 note at the reference pitch peaks here


def load_checkpoint(run: str | Path, which: str = "best") -> tuple[dict, GradNetPotential]:
    """(checkpoint state, potential) of a run directory or checkpoint file; which: "best"
    (the best validation model) or "final"."""
    path = Path(run)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.exists():
        raise ParameterError(f"no checkpoint at {path}; train first")
    state = read_checkpoint(path)
    weights = state["best_model"] if which == "best" and state["best_model"] else state["model"]
    recipe = state["recipe"]
    if recipe.get("family", "gradnet") != "gradnet":
        raise ParameterError(f"{path} is a {recipe['family']} run, an offline baseline: it has "
                             "no preset to play")
    potential = GradNetPotential(recipe["n_modes"], recipe["hidden"], dtype=torch.float64,
                                 activation=recipe.get("activation", "leaky"))
    potential.load_state_dict({k: v.to(torch.float64) for k, v in weights.items()})
    return state, potential


def export_preset(run: str | Path, out: str | Path, which: str = "best", name: str | None = None,
                  metrics: dict | None = None) -> Path:
    """Write the run's potential as a `sav-gradnet` preset at `out`."""
    state, potential = load_checkpoint(run, which)
    recipe = state["recipe"]
    config = DatasetConfig.load(recipe["dataset"])
    centre = {key: _centre(config.ranges[key]) for key in
              ("gamma", "kappa", "nu", "sigma0", "sigma1")}
    string = StringParams(**centre)
    reference_note = 69.0 + 12.0 * math.log2((string.gamma / 2.0) / note_frequency(69))
    name = name or Path(out).stem
    preset = Preset(
        name=name, kind="sav-gradnet", n_modes=recipe["n_modes"], potential_name="gradnet",
        string=string, reference_note=reference_note, excitation_type="pluck",
        pluck_position=0.2, excitation_width_ms=1000.0 * _centre(config.ranges["t_e"]),
        amplitude=float(config.ranges["amplitude"][-1] if isinstance(
            config.ranges["amplitude"], list) else config.ranges["amplitude"]),
        pickup=0.8, output_gain=1.0, activation=potential.activation,
        description=(f"A learned string: a {recipe['hidden']}-unit convex GradNet potential "
                     f"({potential.activation} activation) "
                     f"trained through the SAV scheme on {config.name} (stable by "
                     "construction; tension, stiffness and damping stay live)."),
        provenance={"recipe": recipe, "recipe_digest": state["digest"],
                    "dataset": {"name": config.name, "hash": config.hash,
                                "seed": config.seed},
                    "training": {"steps": state["step"], "seconds": round(state["seconds"], 1),
                                 "best_validation": state["best_validation"],
                                 "weights": which, "torch": str(state["torch"])},
                    "exported": datetime.date.today().isoformat(),
                    "metrics": metrics or {}},
        weights=potential.export())
    gain = _output_gain(preset)
    preset = Preset(**{**preset.__dict__, "output_gain": gain, "path": None})
    return save_preset(preset, out)


def _centre(value) -> float:
    return float(np.mean(value)) if isinstance(value, list) else float(value)


def _output_gain(preset: Preset) -> float:
    """The gain that makes a velocity-100 note at the reference pitch peak at PEAK_DBFS."""
    engine = Engine(preset, fs=48000, polyphony=1)
    engine.note_on(round(preset.reference_note), 100)
    peak = float(np.abs(engine.process(48000 // 2)).max())
    return 10 ** (PEAK_DBFS / 20) / peak if peak > 0 else 1.0
