"""The `learned-modal` model kind: a linear string whose modes' frequencies, decay rates and
excitation gains are learned (`ns_modal.kernels`), registered with neural-strings through the
entry point group "neural_strings.kinds" (see pyproject.toml). Torch-free: the player loads
it without the training side.

A preset carries three float64 tensors over its M modes, modal.log_frequency (M,),
modal.log_decay (M,) and modal.gain (M, 2) (real and imaginary parts), and no model settings
beyond n_modes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ns_modal import kernels
from synth.kernels.aligned import aligned_zeros
from synth.kernels.formulas import EXC_ROWS, excitation_record
from synth.kinds import Kind, VoiceKernels
from synth.physics.losses import scheme_losses

NAME = "learned-modal"
TENSORS = ("modal.log_frequency", "modal.log_decay", "modal.gain")


def build_voices(preset, fs: float, capacity: int, dtype) -> kernels.ModalVoices:
    """`capacity` silent lanes of a learned-modal preset at fs Hz."""
    learned = np.zeros((kernels.LEARNED_ROWS, preset.n_modes))
    learned[kernels.LOG_FREQUENCY] = preset.tensors["modal.log_frequency"]
    learned[kernels.LOG_DECAY] = preset.tensors["modal.log_decay"]
    learned[kernels.GAIN_RE] = preset.tensors["modal.gain"][:, 0]
    learned[kernels.GAIN_IM] = preset.tensors["modal.gain"][:, 1]
    return kernels.ModalVoices(
        state=aligned_zeros((kernels.STATE_ROWS, preset.n_modes, capacity), dtype),
        learned=learned, exc=aligned_zeros((EXC_ROWS, capacity)),
        lane=aligned_zeros((kernels.LANE_ROWS, capacity)), constants=np.array([1.0 / fs]))


def _check_model(model: dict, n_modes: int) -> dict:
    if model:
        raise ValueError(f"a learned-modal preset has no model settings besides n_modes, got "
                         f"{sorted(model)}")
    return model


def _tensors(model: dict, n_modes: int) -> dict:
    return {"modal.log_frequency": ((n_modes,), "float64"),
            "modal.log_decay": ((n_modes,), "float64"),
            "modal.gain": ((n_modes, 2), "float64")}


def _describe(preset) -> str:
    shift = 1200.0 * np.log2(np.exp(preset.tensors["modal.log_frequency"]))
    return (f"{preset.n_modes} modes, each a damped oscillator with a learned frequency "
            f"({shift.min():+.1f} to {shift.max():+.1f} cents from the linear string's), "
            "decay rate and excitation gain; linear, so the nonlinearity control does nothing")


def render(preset, spec) -> tuple[np.ndarray, np.ndarray]:
    """One string of a SimulationSpec played from rest by one lane, as the engine plays it,
    float64: q (N, M) and w (N,)."""
    voices = build_voices(preset, spec.fs, 1, np.float64)
    string, excitation = spec.string, spec.excitation
    kernels.retune(voices, 0, string.gamma ** 2, string.kappa,
                   scheme_losses(string.sigma0, string.sigma1), string.nu ** 2, spec.pickup, 0)
    kernels.excite(voices, 0, excitation_record(excitation.amplitude,
                                                excitation.duration * spec.fs,
                                                excitation.shape, excitation.position))
    q = np.zeros((spec.n_steps, preset.n_modes))
    w = np.zeros((spec.n_steps, 1))
    kernels.record(voices, spec.n_steps, q, w)
    return q[:, :spec.n_modes], w[:, 0]


KIND = Kind(
    name=NAME, title="learned linear modal string (plugin example: frequencies, decays and "
                     "gains per mode fitted to data)",
    voices_class=kernels.ModalVoices,
    kernels=VoiceKernels(
        reset=kernels.reset, settle=kernels.settle, retune=kernels.retune,
        excite=kernels.excite, advance=kernels.advance, end_ramps=kernels.end_ramps,
        is_finite=kernels.is_finite, publish_modes=kernels.publish_modes),
    build_voices=build_voices, check_model=_check_model, tensors=_tensors,
    describe=_describe, free_run=render, ignores=("nonlinearity", "plectrum", "plectrum_stiffness"),
    tuning=lambda preset: float(np.exp(preset.tensors["modal.log_frequency"][0])),
    presets=Path(__file__).resolve().parent / "presets")
