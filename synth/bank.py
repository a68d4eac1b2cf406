"""The oscillator-bank kinds (`koopman`, `ssm`): their preset tensors and engine tables.

Both kinds are one string's learned dynamics as M x K damped complex oscillators (D = M K,
index d = m K + j), trained in `models.koopman` and `models.ssm`. A preset carries (float64):

    bank.log_magnitude, bank.phase   (M, K)  log |lambda| (< 0) and arg lambda per sample at
                                             the training rate
    koopman: encoder.I.weight (out, in), encoder.I.bias (out,), I = 0..2: the excitation
             encoder, 3 -> H -> H -> 2 D (GELU between layers)
    ssm:     input.real, input.imag (M, K): oscillator input gains (per unit force / A_s);
             readout.real, readout.imag (R + 1, M, K); gate.I.weight, gate.I.bias, I = 0..2:
             the gate, 2 M -> H -> H -> R

and in its "model" description the training rate `fs`, `copies` K, `hidden` H, `rank` R (ssm),
`amplitude_scale` A_s (normalised force), `width_scale` T_s (s) and `width_range` [s, s].

`net_tables` packs them into the engine's NET_TABLES float64 tables (`synth.kernels.bank`).
"""

from __future__ import annotations

import numpy as np

from synth.physics.modes import angular_frequencies, decay_rates
from synth.physics.strings import StringParams

KOOPMAN, SSM = 1, 2  # engine family codes (0 is the SAV string)
FAMILY_CODES = {"koopman": KOOPMAN, "ssm": SSM}
GATE_STRIDE = 8  # ssm: samples between evaluations of the gate (held in between)
SETTINGS = ("fs", "copies", "hidden", "rank", "amplitude_scale", "width_scale", "width_range")
# engine parameters a kind's voices ignore: the eigenvalues are one string's, and the Koopman
# encoder sees amplitude, width and position only
INERT_PARAMS = {"koopman": ("nonlinearity", "excitation"), "ssm": ("nonlinearity",)}

# net tables
(W0, B0, W1, B1, W2, B2, LOG_MAGNITUDE, PHASE, INPUT_RE, INPUT_IM, READOUT_RE, READOUT_IM,
 REFERENCE, INFO, WORK) = range(15)
NET_TABLES = 15
# INFO columns
I_FS, I_AMPLITUDE, I_WIDTH, I_WIDTH_LO, I_WIDTH_HI, I_COPIES, I_RANK, I_HIDDEN = range(8)
INFO_SIZE = 8
WORK_ROWS = 3  # MLP activations: two hidden layers and the output


def tensor_shapes(kind: str, n_modes: int, settings: dict) -> dict[str, tuple[int, ...]]:
    """The tensors a `kind` preset must hold, with their shapes."""
    M, K, H = n_modes, settings["copies"], settings["hidden"]
    shapes = {"bank.log_magnitude": (M, K), "bank.phase": (M, K)}
    if kind == "koopman":
        sizes = [3, H, H, 2 * M * K]
        prefix = "encoder"
    else:
        R = settings["rank"]
        sizes = [2 * M, H, H, R]
        prefix = "gate"
        shapes.update({"input.real": (M, K), "input.imag": (M, K),
                       "readout.real": (R + 1, M, K), "readout.imag": (R + 1, M, K)})
    for i in range(3):
        shapes[f"{prefix}.{i}.weight"] = (sizes[i + 1], sizes[i])
        shapes[f"{prefix}.{i}.bias"] = (sizes[i + 1],)
    return shapes


def check_tensors(kind: str, n_modes: int, settings: dict, tensors: dict) -> list[str]:
    """What is wrong with a preset's tensors (missing, misshapen, unstable), or []."""
    faults = []
    for name, shape in tensor_shapes(kind, n_modes, settings).items():
        if name not in tensors:
            faults.append(f"missing tensor {name!r}")
        elif tuple(tensors[name].shape) != shape:
            faults.append(f"tensor {name!r} has shape {tuple(tensors[name].shape)}, "
                          f"expected {shape}")
    magnitude = tensors.get("bank.log_magnitude")
    if magnitude is not None and not faults and not (magnitude < 0.0).all():
        faults.append("bank.log_magnitude must be negative (|lambda| < 1)")
    return faults


def reference_modes(string: StringParams, n_modes: int) -> np.ndarray:
    """(2, M): the trained string's damped angular frequencies (rad/s) and decay rates (1/s),
    against which live tension and damping scale the eigenvalues."""
    omega, sigma = angular_frequencies(string, n_modes), decay_rates(string, n_modes)
    return np.stack([np.sqrt(np.maximum(omega ** 2 - sigma ** 2, 1e-12)), sigma])


def net_tables(kind: str, n_modes: int, settings: dict, weights: dict,
               string: StringParams) -> tuple[np.ndarray, ...]:
    """The engine's NET_TABLES float64 tables for a bank preset (WORK is scratch)."""
    M, K, H = n_modes, settings["copies"], settings["hidden"]
    R = settings.get("rank", 1) if kind == "ssm" else 1
    prefix = "encoder" if kind == "koopman" else "gate"
    unused = np.zeros((1, 1))
    tables = [unused] * NET_TABLES
    for i, (w, b) in enumerate(((W0, B0), (W1, B1), (W2, B2))):
        tables[w] = weights[f"{prefix}.{i}.weight"]
        tables[b] = weights[f"{prefix}.{i}.bias"][None, :]
    tables[LOG_MAGNITUDE] = weights["bank.log_magnitude"]
    tables[PHASE] = weights["bank.phase"]
    if kind == "ssm":
        tables[INPUT_RE], tables[INPUT_IM] = weights["input.real"], weights["input.imag"]
        tables[READOUT_RE] = weights["readout.real"].reshape(R + 1, M * K)
        tables[READOUT_IM] = weights["readout.imag"].reshape(R + 1, M * K)
    tables[REFERENCE] = reference_modes(string, n_modes)
    info = np.zeros((1, INFO_SIZE))
    info[0, [I_FS, I_AMPLITUDE, I_WIDTH, I_COPIES, I_RANK, I_HIDDEN]] = (
        settings["fs"], settings["amplitude_scale"], settings["width_scale"], K, R, H)
    info[0, [I_WIDTH_LO, I_WIDTH_HI]] = settings["width_range"]
    tables[INFO] = info
    tables[WORK] = np.zeros((WORK_ROWS, max(H, 2 * M * K, R)))
    return tuple(np.ascontiguousarray(t, dtype=np.float64) for t in tables)


class LoneVoice:
    """One voice of a bank preset in arrays of its own (a single lane), as the engine sets a
    lane up: reset, tuned to `string`, heard at `pickup`, at sample rate `fs` (Hz)."""

    def __init__(self, preset, string: StringParams, pickup: float, fs: float,
                 dtype=np.float64, net: tuple[np.ndarray, ...] | None = None) -> None:
        from synth.kernels import bank as kernels
        from synth.kernels import lanes

        self.family, self.fs, M = FAMILY_CODES[preset.kind], fs, preset.n_modes
        self.net = net or net_tables(preset.kind, M, preset.settings, preset.weights,
                                     preset.string)
        width_rows = max(self.net[LOG_MAGNITUDE].size, 2 * M, kernels.LANE_COLUMNS)
        self.bank = np.zeros((kernels.BANK_ROWS, width_rows, 1), dtype)
        self.coef = np.zeros((lanes.COEF_ROWS, M, 1), dtype)
        self.exc = np.zeros((lanes.EXC_ROWS, 1))
        kernels.reset(0, self.family, self.bank, self.net, self.exc)
        kernels.retune(0, self.bank, self.net, self.coef, string.gamma ** 2, string.kappa,
                       string.sigma0, string.sigma1, pickup, 1.0 / fs)

    def excite(self, amplitude: float, width: float, position: float,
               shape: str = "pluck") -> None:
        """Pluck (or strike) with `amplitude` (normalised force), `width` (s) at `position`."""
        from synth.kernels import bank as kernels
        from synth.physics.excitation import SHAPES

        if self.family == KOOPMAN:
            kernels.excite_koopman(0, self.bank, self.net, self.coef, amplitude, width,
                                   position)
        else:
            kernels.excite_ssm(0, self.bank, self.net, self.coef, self.exc, amplitude,
                               width * self.fs, SHAPES[shape], position)


def render_string(preset, amplitude: float, width: float, position: float, pickup: float,
                  n_steps: int, fs: float | None = None, shape: str = "pluck",
                  dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """One free run of a bank preset on its trained string, as the engine plays it: a pluck
    (or strike) of `amplitude` (normalised force), `width` (s) at `position`, heard at
    `pickup`, for n_steps samples at `fs` (default: the training rate). Returns q (n, M) and
    w (n,); sample n is the state after n + 1 steps."""
    from synth.kernels import bank as kernels

    voice = LoneVoice(preset, preset.string, pickup, fs or preset.settings["fs"], dtype)
    voice.excite(amplitude, width, position, shape)
    q = np.zeros((n_steps, preset.n_modes))
    w = np.zeros((n_steps, 1), dtype)
    kernels.record(voice.family, n_steps, voice.bank, voice.net, voice.coef, voice.exc, q, w)
    return q, w[:, 0].astype(np.float64)


def sav_net_tables() -> tuple[np.ndarray, ...]:
    """Placeholder tables for the SAV family (which has no bank)."""
    return tuple(np.zeros((1, 1)) for _ in range(NET_TABLES))
