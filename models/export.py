"""`neural-strings export RUN OUT.safetensors`: a training run becomes a playable preset.

A GradNet run gives a `sav-gradnet` preset whose string defaults are the centre of the
training ranges; a Koopman or SSM run gives a `koopman` or `ssm` preset of the one string it
learned (`synth.bank`). Either carries, in its provenance, the recipe, the dataset and its
hash, the training time and steps, and (with a test set) the measured test metrics. The
engine retunes each note, and tension, stiffness and damping stay live controls.
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path

import numpy as np
import torch

from models.recipe import SEQUENCE_FAMILIES, Recipe
from models.train import load_run, one_string
from synth.bank import reference_modes
from synth.dataset import DatasetConfig
from synth.engine import Engine
from synth.errors import ParameterError
from synth.physics.strings import StringParams, note_frequency
from synth.presets import Preset, save_preset

PEAK_DBFS = -12.0  # a velocity-100 note at the reference pitch peaks here


def load_checkpoint(run: str | Path, which: str = "best") -> tuple[dict, torch.nn.Module]:
    """(checkpoint state, network in float64) of a playable run (a GradNet potential, a
    KoopmanString or a DiagonalSSM); which: "best" (the best validation model) or "final"."""
    state, network = load_run(run, which)
    family = state["recipe"].get("family", "gradnet")
    if family != "gradnet" and family not in SEQUENCE_FAMILIES:
        raise ParameterError(f"{run} is a {family} run, an offline baseline: it has no "
                             "preset to play")
    return state, network


def export_preset(run: str | Path, out: str | Path, which: str = "best", name: str | None = None,
                  metrics: dict | None = None) -> Path:
    """Write the run's network as a preset at `out`."""
    state, network = load_checkpoint(run, which)
    recipe = state["recipe"]
    config = DatasetConfig.load(recipe["dataset"])
    provenance = {"recipe": recipe, "recipe_digest": state["digest"],
                  "dataset": {"name": config.name, "hash": config.hash, "seed": config.seed},
                  "training": {"steps": state["step"], "seconds": round(state["seconds"], 1),
                               "best_validation": state["best_validation"],
                               "weights": which, "torch": str(state["torch"])},
                  "exported": datetime.date.today().isoformat(),
                  "metrics": metrics or {}}
    name = name or Path(out).stem
    if recipe.get("family", "gradnet") in SEQUENCE_FAMILIES:
        preset = _bank_preset(recipe, config, network, name, provenance)
    else:
        preset = _gradnet_preset(recipe, config, network, name, provenance)
    gain = _output_gain(preset)
    preset = Preset(**{**preset.__dict__, "output_gain": gain, "path": None})
    return save_preset(preset, out)


def _bank_preset(recipe: dict, config: DatasetConfig, network, name: str,
                 provenance: dict) -> Preset:
    full = Recipe.from_stored(recipe)  # with the fields as_dict leaves out at their defaults
    family, n_modes = full.family, full.n_modes
    string, fs, amplitude, width = one_string(config)
    settings = {"fs": fs, "copies": full.copies, "hidden": full.hidden,
                **({"rank": full.rank} if family == "ssm" else {}),
                "amplitude_scale": amplitude, "width_scale": width,
                "width_range": [float(np.min(config.ranges["t_e"])), width]}
    first = reference_modes(string, n_modes)[0, 0] / (2.0 * math.pi)  # Hz
    what = {"koopman": "a deep Koopman model (an excitation encoder and a latent of "
                       f"{n_modes} x {full.copies} damped oscillators)",
            "ssm": "a diagonal state-space model (a hold layer, a gate and "
                   f"{n_modes} x {full.copies} damped oscillators driven by the force)"}
    return Preset(
        name=name, kind=family, n_modes=n_modes, potential_name="none", string=string,
        reference_note=69.0 + 12.0 * math.log2(first / note_frequency(69)),
        excitation_type="pluck", pluck_position=0.2,
        excitation_width_ms=1000.0 * _centre(config.ranges["t_e"]), amplitude=amplitude,
        pickup=0.8, output_gain=1.0, settings=settings,
        description=(f"A learned string: {what[family]}, trained on {config.name}. Tension "
                     "and damping scale its learned eigenvalues (pitch and decay); the "
                     "nonlinearity control has no effect."),
        provenance=provenance, weights=network.export())


def _gradnet_preset(recipe: dict, config: DatasetConfig, potential, name: str,
                    provenance: dict) -> Preset:
    centre = {key: _centre(config.ranges[key]) for key in
              ("gamma", "kappa", "nu", "sigma0", "sigma1")}
    string = StringParams(**centre)
    reference_note = 69.0 + 12.0 * math.log2((string.gamma / 2.0) / note_frequency(69))
    return Preset(
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
        provenance=provenance, weights=potential.export())


def _centre(value) -> float:
    return float(np.mean(value)) if isinstance(value, list) else float(value)


def _output_gain(preset: Preset) -> float:
    """The gain that makes a velocity-100 note at the reference pitch peak at PEAK_DBFS."""
    engine = Engine(preset, fs=48000, polyphony=1)
    engine.note_on(round(preset.reference_note), 100)
    peak = float(np.abs(engine.process(48000 // 2)).max())
    return 10 ** (PEAK_DBFS / 20) / peak if peak > 0 else 1.0
