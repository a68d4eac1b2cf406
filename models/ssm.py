"""Diagonal state-space string (`ssm` kind): diagonal linear recurrences driven by the force.

The input is the excitation force as the string receives it, per mode: u_m(n) =
Phi_m(x_e) f(n) / A_s (A_s the amplitude scale), so a note-on feeds the model exactly as it
feeds the string. Two diagonal recurrences, with a pointwise nonlinear layer between them:

1. Hold layer: h(n) = h(n - 1) + (k / T_s) [u(n), u(n)^2] (2M channels), recurrences with
   eigenvalue 1 that keep what the excitation put in (bounded: the pulse ends). T_s is the
   width scale (s), k the time step (s).
2. Gate, pointwise in time on every GATE_STRIDE-th sample (sample and hold between):
   s(n) = G(h(S floor(n / S))), S = GATE_STRIDE, an MLP to R values.
3. Oscillator layer: x_mk(n) = lambda_mk x_mk(n - 1) + b_mk (k A_s / omega_d,m) u_m(n), the
   `OscillatorBank` (|lambda| < 1, initialised on the linear string's modes); b starts at -i
   so that x carries the linear string's impulse response.
4. Readout: q_m(n) = sum_k Re(c_mk(n) x_mk(n)), c(n) = C_0 + sum_r s_r(n) C_r (complex).

The gate mixes the detuned copies according to what the excitation was (how hard, how long,
where), which carries the amplitude-dependent pitch glide; once the pulse has ended (and the
gate has seen all of it) h, s and c are constant and each sample costs one complex
multiply-add per oscillator. Running the gate at fs / S keeps a chord's note-ons cheap. Because the
input is a short pulse (L samples), x(n) = lambda^n S(min(n, L - 1)) with
S(t) = sum_{j <= t} lambda^-j b u(j), so training evaluates any sample index in closed form.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from models.family import Family
from models.koopman import relative_per_string
from models.oscillators import OscillatorBank, bank_arguments, bank_preset, export_mlp, mlp
from models.schemes import WindowTraining
from synth.kernels.bank import GATE_STRIDE
from synth.physics.strings import StringParams


class DiagonalSSM(nn.Module):
    """The model above for one string (`string` at `fs` Hz, M modes, K copies, a gate MLP
    of `hidden` units to `rank` values)."""

    def __init__(self, string: StringParams, n_modes: int, fs: float, copies: int = 8,
                 hidden: int = 128, rank: int = 8, amplitude_scale: float = 1.0,
                 width_scale: float = 1e-3, dtype=torch.float64) -> None:
        super().__init__()
        self.bank = OscillatorBank(string, n_modes, fs, copies, dtype=dtype)
        self.k = 1.0 / fs
        self.amplitude_scale, self.width_scale = float(amplitude_scale), float(width_scale)
        self.input_gain = nn.Parameter(torch.zeros(n_modes, copies, 2, dtype=dtype))
        self.gate = mlp([2 * n_modes, hidden, hidden, rank], dtype)
        self.readout = nn.Parameter(0.1 * torch.randn(rank + 1, n_modes, copies, 2,
                                                      dtype=dtype))
        with torch.no_grad():
            self.input_gain[..., 1] = -1.0
            self.readout[0] = 0.0
            self.readout[0, ..., 0] = 1.0 / copies

    def inputs(self, strings, position: torch.Tensor) -> torch.Tensor:
        """u (B, L, M) of a StringBatch's excitation pulses: L - 1 is the first multiple of
        GATE_STRIDE at or after the longest pulse's end, so the gate at L - 1 has seen it all."""
        pulse = math.ceil(float(strings.length.max()))
        length = GATE_STRIDE * math.ceil(pulse / GATE_STRIDE) + 1
        steps = torch.arange(length)[None, :].expand(len(position), -1)
        return strings.forces(steps)[..., None] * strings.phi_e[:, None, :] \
            / self.amplitude_scale

    def _complex(self, pairs: torch.Tensor) -> torch.Tensor:
        return torch.complex(pairs[..., 0], pairs[..., 1])

    def predict_inputs(self, u: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """q (B, T, M) at sample indices `steps` (T,) for inputs u (B, L, M) that are zero at
        sample L - 1, a multiple of GATE_STRIDE (so the gate there has seen all the pulse)."""
        L = u.shape[1]
        log_lambda = self.bank.log_eigenvalues()  # (M, K)
        j = torch.arange(L, dtype=u.dtype)
        omega_d = self.bank.theta0 / self.k  # (M, 1)
        b = self._complex(self.input_gain) * (self.k * self.amplitude_scale / omega_d)
        unwind = torch.exp(-log_lambda[None] * j[:, None, None])  # (L, M, K)
        S = torch.cumsum(unwind[None] * b * u[..., None], 1)  # (B, L, M, K)
        lift = torch.cat([u, u * u], -1) * (self.k / self.width_scale)
        gates = self.gate(torch.cumsum(lift, 1)[:, ::GATE_STRIDE])  # (B, L', R)
        C = self._complex(self.readout)
        held = torch.arange(L) // GATE_STRIDE
        c = (C[0] + torch.einsum("blr,rmk->blmk", gates.to(C.dtype), C[1:]))[:, held]
        powers = self.bank.powers(steps)  # (T, M, K)
        q = torch.einsum("bmk,tmk->btm", c[:, -1] * S[:, -1], powers).real
        early = torch.nonzero(steps < L - 1).flatten()
        if len(early):  # during the pulse: the gate and S still change
            n = steps[early]
            q = q.clone()
            q[:, early] = (c[:, n] * S[:, n] * powers[early][None]).real.sum(-1)
        return q

    def predict(self, strings, position: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        """q (B, T, M) of a StringBatch at sample indices `steps` (T,)."""
        return self.predict_inputs(self.inputs(strings, position), steps)

    def loss(self, batch) -> torch.Tensor:
        """relMSE of q per string over a `models.windows.Windows` batch, averaged."""
        return relative_per_string(self.predict(batch.strings, batch.position, batch.steps),
                                   batch.q)

    def export(self) -> dict[str, np.ndarray]:
        """Float64 arrays for the preset: eigenvalues, input gains, gate and readout."""
        omega_d = (self.bank.theta0 / self.k).detach()
        gain = self._complex(self.input_gain).detach() * (self.k * self.amplitude_scale
                                                          / omega_d)
        readout = self._complex(self.readout).detach()
        return {**{f"bank.{k}": v for k, v in self.bank.export().items()},
                "input.real": gain.real.numpy(), "input.imag": gain.imag.numpy(),
                "readout.real": readout.real.numpy(), "readout.imag": readout.imag.numpy(),
                **export_mlp(self.gate, "gate")}


def _export(recipe, config, network: DiagonalSSM, name: str):
    return bank_preset("ssm", recipe, config, network, name,
                       f"a diagonal state-space model (a hold layer, a gate and "
                       f"{recipe.n_modes} x {recipe.option('copies')} damped oscillators "
                       "driven by the force)")


FAMILY = Family(
    name="ssm", title="diagonal state-space string driven by the force: hold layer, gate, "
                      "damped oscillators (plays as ssm)",
    options={"hidden": 128, "copies": 8, "rank": 8},
    network=lambda recipe, dtype: DiagonalSSM(**bank_arguments(recipe, dtype),
                                              rank=recipe.option("rank")),
    scheme=WindowTraining(), export=_export)
