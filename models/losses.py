"""The torch twin of a string's losses (`synth.physics.losses`; docs/design.md, "Losses"):
each mode's decay under a loss record, and the SAV scheme's per-mode omega_s^2 and sigma_s
(`synth.kernels.linear`), differentiable in the record and the string, for fitting the
losses to recordings.

The decay is `synth.physics.losses.mode_decay` itself, called on tensors; the warping is
`linear.warped_mode` written for tensors (an underdamped mode's poles made exact); modes
above 0.45 fs are dropped (zero coefficients), as the kernels drop them.
"""

from __future__ import annotations

import math

import torch

from synth.kernels.linear import NYQUIST_FRACTION
from synth.physics.losses import mode_decay


def scheme_modes(losses: torch.Tensor, gamma2: torch.Tensor, kappa: torch.Tensor,
                 n_modes: int, k: float, decay=mode_decay) -> tuple[torch.Tensor, torch.Tensor]:
    """(omega_s^2, sigma_s), each (B, n_modes), of B strings (gamma2, kappa (B,), normalised)
    whose modes decay as their loss records `losses` (B, `formulas.LOSS_FIELDS`) say, at
    time step k (s); `decay` the part of the losses to take (`synth.physics.losses`: the
    whole `mode_decay`, or `string_decay` for the unisons' cancelling motion)."""
    beta2 = (torch.arange(1, n_modes + 1, dtype=losses.dtype) * math.pi) ** 2
    g2, kap = gamma2[:, None], kappa[:, None]
    sigma = decay(losses.T[..., None], g2, kap, beta2)
    omega = torch.sqrt(g2 * beta2 + kap * kap * beta2 * beta2)
    a = k * sigma
    damped = torch.sqrt(torch.clamp(omega * omega - sigma * sigma, min=0.0))
    omega2_s = 4.0 * (torch.sinh(0.5 * a) ** 2 + torch.sin(0.5 * k * damped) ** 2) \
        / (k * k * torch.cosh(a))
    kept = omega <= NYQUIST_FRACTION * 2.0 * math.pi / k
    return omega2_s * kept, torch.tanh(a) / k * kept
