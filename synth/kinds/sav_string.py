"""The SAV string kinds: `sav-physics` (an analytic nonlinearity) and `sav-gradnet` (a learned
GradNet potential), played by the SAV lanes (`synth.kernels.sav_voice`).

A preset's "model" settings: "potential" ("exact" or "kc" for sav-physics, "gradnet" for
sav-gradnet) and, for sav-gradnet, "activation" ("leaky", the default, or "stretch"). A
sav-gradnet preset carries the tensors gradnet.weight (H, M), gradnet.bias,
gradnet.log_scale_in and gradnet.log_scale_out (H,), stored in float32.
"""

from __future__ import annotations

import numpy as np

from synth.kernels import sav_voice
from synth.kernels.aligned import aligned_zeros, padded
from synth.kernels.formulas import EXC_ROWS
from synth.kernels.lane_potentials import COLUMN_ROWS, SCRATCH_ROWS
from synth.kernels.lanes import ACC_ROWS, COEF_ROWS, LANE_ROWS, PSI
from synth.kernels.potentials import ACTIVATIONS
from synth.kernels.sav import EPS, LAMBDA0
from synth.kinds.contract import Kind, VoiceKernels
from synth.physics.potentials import Potential, gradnet_potential, make_potential
from synth.physics.simulate import SimulationSpec, simulate

KINDS = ("sav-physics", "sav-gradnet")
GRADNET_TENSORS = ("weight", "bias", "log_scale_in", "log_scale_out")
POTENTIAL_TEXT = {"exact": "exact geometric nonlinearity", "kc": "Kirchhoff-Carrier",
                  "gradnet": "GradNet"}
KERNELS = VoiceKernels(
    reset=sav_voice.reset, settle=sav_voice.settle, retune=sav_voice.retune,
    excite=sav_voice.excite, advance=sav_voice.advance, end_ramps=sav_voice.end_ramps,
    is_finite=sav_voice.is_finite, publish_modes=sav_voice.publish_modes)


def potential_of(preset, dtype=np.float64, n_modes: int | None = None) -> Potential:
    """The potential of a SAV preset, tables in `dtype`, over its first n_modes modes
    (default: all; a learned potential then sees the missing modes as zeros); ValueError for
    a preset of another kind."""
    if preset.kind not in KINDS:
        raise ValueError(f"{preset.name!r} is a {preset.kind} model, not a SAV string "
                         f"({' or '.join(KINDS)}): it has no potential")
    n_modes = preset.n_modes if n_modes is None else n_modes
    if preset.n_modes < n_modes:
        raise ValueError(f"{preset.name!r} covers {preset.n_modes} modes, fewer than "
                         f"n_modes = {n_modes}")
    if preset.kind != "sav-gradnet":
        return make_potential(preset.model["potential"], n_modes, dtype)
    weights = {name: preset.tensors[f"gradnet.{name}"] for name in GRADNET_TENSORS}
    weights["weight"] = weights["weight"][:, :n_modes]
    return gradnet_potential(**weights, dtype=dtype,
                             activation=preset.model.get("activation", "leaky"))


def build_voices(preset, fs: float, capacity: int, dtype) -> sav_voice.SavVoices:
    """The SAV lanes of `capacity` voices of `preset` at fs Hz, at rest."""
    return lanes_for(potential_of(preset, dtype), fs, capacity, dtype)


def lanes_for(potential: Potential, fs: float, capacity: int, dtype) -> sav_voice.SavVoices:
    """SAV lanes of `capacity` voices at fs Hz with `potential` (its tables in `dtype`), at
    rest and silent until retuned."""
    n_modes = potential.n_modes
    width = padded(max([n_modes + 1] + [max(t.shape) for t in potential.tables]), dtype)

    def lanes(*rows, kind=dtype):
        return aligned_zeros((*rows, capacity), kind)

    constants = np.zeros(sav_voice.CONSTANTS)
    constants[sav_voice.K], constants[sav_voice.LAMBDA0] = 1.0 / fs, LAMBDA0
    constants[sav_voice.PSI_REST] = np.sqrt(2.0 * potential.value(np.zeros(n_modes)) + EPS)
    per_lane = lanes(LANE_ROWS)
    per_lane[PSI] = constants[sav_voice.PSI_REST]
    return sav_voice.SavVoices(
        q=lanes(n_modes), p=lanes(n_modes), anti_q=lanes(n_modes), anti_p=lanes(n_modes),
        coef=lanes(COEF_ROWS, n_modes),
        ramp=lanes(COEF_ROWS, n_modes), per_lane=per_lane, exc=lanes(EXC_ROWS, kind=np.float64),
        tables=potential.astype(dtype).tables, scratch=lanes(SCRATCH_ROWS, width),
        hidden=aligned_zeros((capacity, width), dtype),
        column=aligned_zeros((COLUMN_ROWS, width), dtype), grad=lanes(n_modes),
        acc=lanes(ACC_ROWS), constants=constants)


def _check_physics(model: dict, n_modes: int) -> dict:
    if model.get("potential") not in ("exact", "kc"):
        raise ValueError(f"model.potential must be 'exact' or 'kc', got "
                         f"{model.get('potential')!r}")
    return model


def _check_gradnet(model: dict, n_modes: int) -> dict:
    if model.get("potential") != "gradnet":
        raise ValueError(f"model.potential must be 'gradnet', got {model.get('potential')!r}")
    if model.get("activation", "leaky") not in ACTIVATIONS:
        raise ValueError(f"model.activation must be one of {sorted(ACTIVATIONS)}, got "
                         f"{model['activation']!r}")
    return model


def _gradnet_tensors(model: dict, n_modes: int) -> dict:
    return {"gradnet.weight": ((None, n_modes), "float32"),
            **{f"gradnet.{name}": ((None,), "float32") for name in GRADNET_TENSORS[1:]}}


def _check_gradnet_weights(preset) -> list[str]:
    hidden = {preset.tensors[f"gradnet.{name}"].shape[0] for name in GRADNET_TENSORS}
    if len(hidden) > 1:
        return [f"the gradnet tensors disagree on the number of hidden units ({sorted(hidden)})"]
    return []


def _describe(preset) -> str:
    text = f"{preset.n_modes} modes, {POTENTIAL_TEXT[preset.model['potential']]}"
    if preset.kind == "sav-gradnet":
        hidden = preset.tensors["gradnet.weight"].shape[0]
        text += f" ({hidden} units, {preset.model.get('activation', 'leaky')} activation)"
    return text


def free_run(preset, spec: SimulationSpec) -> tuple[np.ndarray, np.ndarray]:
    """One string played from rest by the SAV scheme with the preset's potential."""
    run = simulate(spec, potential=potential_of(preset, n_modes=spec.n_modes))
    return run.q_t, run.w


PHYSICS = Kind(
    name="sav-physics", title="physical model (SAV scheme, analytic nonlinearity)",
    voices_class=sav_voice.SavVoices, kernels=KERNELS, build_voices=build_voices,
    check_model=_check_physics, tensors=lambda model, n_modes: {}, describe=_describe,
    free_run=free_run)

GRADNET = Kind(
    name="sav-gradnet", title="learned model (SAV scheme, GradNet nonlinearity)",
    voices_class=sav_voice.SavVoices, kernels=KERNELS, build_voices=build_voices,
    check_model=_check_gradnet, tensors=_gradnet_tensors, check_tensors=_check_gradnet_weights,
    describe=_describe, free_run=free_run)
