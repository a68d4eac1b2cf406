"""`neural-strings export RUN OUT.safetensors`: a training run becomes a playable preset.

The run's family makes the preset (`Family.export`): a GradNet run gives a `sav-gradnet`
preset whose string defaults are the centre of the training ranges, a Koopman or SSM run a
`koopman` or `ssm` preset of the one string it learned, a plugin's family a preset of its
kind. Here every preset gets its provenance (the recipe, the dataset and its hash, the
training time and steps, and with a test set the measured test metrics), optionally a body
taken from another preset (`--body`), and the output gain that makes a velocity-100 note at
the reference pitch peak at `synth.engine.levels.LEVEL_DBFS`. The engine retunes each note,
and tension, stiffness and damping stay live controls.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import torch

from models.family import find_family
from models.train import load_run, stored_recipe
from synth.bodies import Body
from synth.engine.levels import on_body
from synth.errors import ParameterError
from synth.files import check_output
from synth.presets import save_preset


def load_checkpoint(run: str | Path, which: str = "best") -> tuple[dict, torch.nn.Module]:
    """(checkpoint state, network in float64) of a playable run; which: "best" (the best
    validation model) or "final"."""
    state, network = load_run(run, which)
    family = find_family(stored_recipe(state).family)
    if not family.playable:
        raise ParameterError(f"{run} is a {family.name} run, an offline baseline: it has no "
                             "preset to play (`neural-strings compare` measures it)")
    return state, network


def export_preset(run: str | Path, out: str | Path, which: str = "best", name: str | None = None,
                  metrics: dict | None = None, body: Body | None = None) -> Path:
    """Write the run's network as a preset at `out`, on `body` if one is given."""
    out = check_output(out, (".safetensors",), "a preset")
    state, network = load_checkpoint(run, which)
    recipe = stored_recipe(state)
    config = recipe.dataset_config()
    provenance = {"recipe": state["recipe"], "recipe_digest": state["digest"],
                  "dataset": {"name": config.name, "hash": config.hash, "seed": config.seed},
                  "training": {"steps": state["step"], "seconds": round(state["seconds"], 1),
                               "best_validation": state["best_validation"],
                               "weights": which, "torch": str(state["torch"])},
                  "exported": datetime.date.today().isoformat(),
                  "metrics": metrics or {}}
    preset = find_family(recipe.family).export(recipe, config, network, name or out.stem)
    preset = dataclasses.replace(preset, provenance=provenance)
    return save_preset(on_body(preset, body), out)
