"""The oscillator-bank kinds, `koopman` and `ssm`: one string's learned dynamics as M x K
damped complex oscillators (D = M K), trained in `models.koopman` and `models.ssm` and played
by `synth.kernels.bank`.

A preset carries (stored in float64: eigenvalue phases accumulate over many samples):

    bank.log_magnitude, bank.phase   (M, K)  log |lambda| (< 0) and arg lambda per sample at
                                             the training rate
    koopman: encoder.I.weight (out, in), encoder.I.bias (out,), I = 0..2: the excitation
             encoder, 3 -> H -> H -> 2 D (GELU between layers)
    ssm:     input.real, input.imag (M, K): oscillator input gains (per unit force / A_s);
             readout.real, readout.imag (R + 1, M, K); gate.I.weight, gate.I.bias, I = 0..2:
             the gate, 2 M -> H -> H -> R

and in its "model" settings "potential": "none", the training rate `fs`, `copies` K, `hidden`
H, `rank` R (ssm), `amplitude_scale` A_s (normalised force), `width_scale` T_s (s) and
`width_range` [s, s].
"""

from __future__ import annotations

import math

import numpy as np

from synth.kernels import bank as kernels
from synth.kernels.aligned import aligned_zeros, padded
from synth.kernels.formulas import EXC_ROWS, excitation_record
from synth.kinds.contract import Kind, VoiceKernels
from synth.physics.excitation import SHAPES
from synth.physics.losses import scheme_losses
from synth.physics.modes import angular_frequencies, decay_rates
from synth.physics.simulate import SimulationSpec
from synth.physics.strings import StringParams

SETTINGS = ("fs", "copies", "hidden", "rank", "amplitude_scale", "width_scale", "width_range")


def tensor_shapes(kind: str, model: dict, n_modes: int) -> dict[str, tuple[int, ...]]:
    """The tensors a `kind` preset must hold, with their shapes."""
    M, K, H = n_modes, model["copies"], model["hidden"]
    shapes = {"bank.log_magnitude": (M, K), "bank.phase": (M, K)}
    if kind == "koopman":
        sizes = [3, H, H, 2 * M * K]
        prefix = "encoder"
    else:
        R = model["rank"]
        sizes = [2 * M, H, H, R]
        prefix = "gate"
        shapes.update({"input.real": (M, K), "input.imag": (M, K),
                       "readout.real": (R + 1, M, K), "readout.imag": (R + 1, M, K)})
    for i in range(3):
        shapes[f"{prefix}.{i}.weight"] = (sizes[i + 1], sizes[i])
        shapes[f"{prefix}.{i}.bias"] = (sizes[i + 1],)
    return shapes


def check_model(kind: str, model: dict) -> dict:
    """The model settings of a koopman or ssm preset, checked (ValueError says what is
    wrong); returned as given."""
    if model.get("potential") != "none":
        raise ValueError(f"model.potential must be 'none' for a {kind} preset")
    for key in SETTINGS:
        if key == "rank" and kind == "koopman":
            continue
        if key not in model:
            raise ValueError(f"missing field 'model.{key}'")
        value = model[key]
        if key == "width_range":
            if not (isinstance(value, list) and len(value) == 2 and all(
                    _positive_number(v) for v in value)):
                raise ValueError("model.width_range must be [low, high] in seconds")
        elif key in ("copies", "hidden", "rank"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"model.{key} must be a positive integer")
        elif not _positive_number(value):
            raise ValueError(f"model.{key} must be a positive finite number, got {value!r}")
    return model


def _positive_number(value) -> bool:
    return (not isinstance(value, bool) and isinstance(value, int | float)
            and math.isfinite(value) and value > 0)


def _check_stable(preset) -> list[str]:
    if not (preset.tensors["bank.log_magnitude"] < 0.0).all():
        return ["bank.log_magnitude must be negative (|lambda| < 1)"]
    return []


def reference_modes(string: StringParams, n_modes: int) -> np.ndarray:
    """(2, M): the trained string's damped angular frequencies (rad/s) and decay rates (1/s),
    against which live tension and damping scale the eigenvalues."""
    omega, sigma = angular_frequencies(string, n_modes), decay_rates(string, n_modes)
    return np.stack([np.sqrt(np.maximum(omega ** 2 - sigma ** 2, 1e-12)), sigma])


def net_tables(preset) -> kernels.BankNet:
    """The preset's `BankNet` tables (float64; WORK is scratch)."""
    model, tensors, M = preset.model, preset.tensors, preset.n_modes
    K, H = model["copies"], model["hidden"]
    ssm = preset.kind == "ssm"
    R = model["rank"] if ssm else 1
    prefix = "gate" if ssm else "encoder"
    unused = np.zeros((1, 1))
    info = np.zeros((1, kernels.INFO_SIZE))
    info[0, [kernels.I_FS, kernels.I_AMPLITUDE, kernels.I_WIDTH, kernels.I_COPIES,
             kernels.I_RANK, kernels.I_HIDDEN]] = (
        model["fs"], model["amplitude_scale"], model["width_scale"], K, R, H)
    info[0, [kernels.I_WIDTH_LO, kernels.I_WIDTH_HI]] = model["width_range"]
    layers = {}
    for i in range(3):
        layers[f"w{i}"] = tensors[f"{prefix}.{i}.weight"]
        layers[f"b{i}"] = tensors[f"{prefix}.{i}.bias"][None, :]
    net = kernels.BankNet(
        **layers, log_magnitude=tensors["bank.log_magnitude"], phase=tensors["bank.phase"],
        input_re=tensors["input.real"] if ssm else unused,
        input_im=tensors["input.imag"] if ssm else unused,
        readout_re=tensors["readout.real"].reshape(R + 1, M * K) if ssm else unused,
        readout_im=tensors["readout.imag"].reshape(R + 1, M * K) if ssm else unused,
        reference=reference_modes(preset.string, M), info=info,
        work=np.zeros((kernels.WORK_ROWS, max(H, 2 * M * K, R))))
    return kernels.BankNet(*(np.ascontiguousarray(t, dtype=np.float64) for t in net))


def build_voices(preset, fs: float, capacity: int, dtype):
    """The lanes of `capacity` voices of a bank preset at fs Hz, at rest."""
    net = net_tables(preset)
    M = preset.n_modes
    width = padded(max(net.log_magnitude.size, 2 * M, kernels.LANE_COLUMNS), dtype)
    voices_class = kernels.SsmVoices if preset.kind == "ssm" else kernels.KoopmanVoices
    voices = voices_class(
        bank=aligned_zeros((kernels.BANK_ROWS, width, capacity), dtype), net=net,
        shapes=aligned_zeros((2, M, capacity), dtype),
        exc=aligned_zeros((EXC_ROWS, capacity), np.float64), constants=np.array([1.0 / fs]))
    for v in range(capacity):
        kernels.reset(voices, v)
    return voices


def render_string(preset, amplitude: float, width: float, position: float, pickup: float,
                  n_steps: int, fs: float | None = None, shape: str = "pluck",
                  dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """One free run of a bank preset on its trained string, as the engine plays it: a pluck
    (or strike) of `amplitude` (normalised force), `width` (s) at `position`, heard at
    `pickup`, for n_steps samples at `fs` (default: the training rate). Returns q (n, M) and
    w (n,); sample n is the state after n + 1 steps."""
    fs = fs or preset.model["fs"]
    voices = build_voices(preset, fs, 1, dtype)
    string = preset.string
    kind = KOOPMAN if preset.kind == "koopman" else SSM
    kind.kernels.retune(voices, 0, string.gamma ** 2, string.kappa, scheme_losses(string.sigma0,
                        string.sigma1), string.nu ** 2, pickup, 0)
    kind.kernels.excite(voices, 0, excitation_record(amplitude, width * fs, SHAPES[shape],
                                                        position))
    q = np.zeros((n_steps, preset.n_modes))
    w = np.zeros((n_steps, 1), dtype)
    kernels.record(voices, n_steps, q, w)
    return q, w[:, 0].astype(np.float64)


def free_run(preset, spec: SimulationSpec) -> tuple[np.ndarray, np.ndarray]:
    """One string played from rest: only the string the preset learned (another is refused)."""
    learned, tested = preset.string.as_dict(), spec.string.as_dict()
    if any(not math.isclose(learned[k], tested[k], rel_tol=1e-9) for k in learned):
        raise ValueError(f"{preset.name} is a {preset.kind} model of one string "
                         f"({learned}); the test string differs ({tested})")
    excitation = spec.excitation
    q, w = render_string(preset, excitation.amplitude, excitation.duration,
                         excitation.position, spec.pickup, spec.n_steps, spec.fs,
                         excitation.kind)
    return q[:, :spec.n_modes], w


def _describe(preset) -> str:
    return (f"{preset.n_modes} modes, learned eigenvalues of one string (tension and damping "
            f"scale them, the nonlinearity control does nothing); "
            f"{preset.model['copies']} oscillators per mode, {preset.model['hidden']}-unit "
            "network")


def _kernels(excite, advance) -> VoiceKernels:
    return VoiceKernels(
        reset=kernels.reset, settle=kernels.settle, retune=kernels.retune, excite=excite,
        advance=advance, end_ramps=kernels.end_ramps, is_finite=kernels.is_finite,
        publish_modes=kernels.publish_modes)


KOOPMAN = Kind(
    name="koopman", title="learned model (deep Koopman: encoder and linear latent)",
    voices_class=kernels.KoopmanVoices,
    kernels=_kernels(kernels.excite_koopman, kernels.advance_koopman),
    build_voices=build_voices, check_model=lambda model, n: check_model("koopman", model),
    tensors=lambda model, n: {name: (shape, "float64") for name, shape in
                              tensor_shapes("koopman", model, n).items()},
    check_tensors=_check_stable, describe=_describe, free_run=free_run,
    ignores=("nonlinearity", "excitation", "plectrum", "plectrum_stiffness"))

SSM = Kind(
    name="ssm", title="learned model (diagonal state-space model driven by the force)",
    voices_class=kernels.SsmVoices, kernels=_kernels(kernels.excite_ssm, kernels.advance_ssm),
    build_voices=build_voices, check_model=lambda model, n: check_model("ssm", model),
    tensors=lambda model, n: {name: (shape, "float64") for name, shape in
                              tensor_shapes("ssm", model, n).items()},
    check_tensors=_check_stable, describe=_describe, free_run=free_run,
    ignores=("nonlinearity", "plectrum", "plectrum_stiffness"))
