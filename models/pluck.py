"""The torch twin of a finger's or plectrum's pluck (`synth.physics.pluck`; the kernel's
`formulas.HELD_PLUCK`), for a `models.sav.SAVScheme`, differentiable in the holding force,
the release time and the contact's shape, for fitting a guitar to recordings.

The string starts held in the scheme's equilibrium under the force H at the contact,
q_m = H phi_m / omega_s,m^2, p = 0, and the force lets go as H/2 (1 + cos(pi t / T_r)) over
the release, t the middle of each step, as in the kernel. The scrape's noise is the
kernel's own generator's and is left out here (a fit matches spectra, not noise samples).
"""

from __future__ import annotations

import math

import torch

from models.sav import SAVScheme


def held_start(scheme: SAVScheme, hold: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                                  torch.Tensor]:
    """(q, p (B, M), psi (B,)) of the scheme's strings held by forces `hold` (B,, normalised)
    at their excitation shapes phi_e: the scheme's equilibrium, at rest."""
    omega2 = scheme.omega2
    kept = omega2 > 0.0
    q = torch.where(kept, hold[:, None] * scheme.phi_e / torch.where(kept, omega2, 1.0), 0.0)
    return q, torch.zeros_like(q), scheme.psi_of(q)


def release_forces(hold: torch.Tensor, release_steps: torch.Tensor,
                   n_steps: int) -> torch.Tensor:
    """The holding force letting go, at the middle of each of n_steps steps (B, n_steps):
    H/2 (1 + cos(pi t)) for t = (n + 1/2) / T_r < 1, then 0 (T_r in steps, (B,))."""
    n = torch.arange(n_steps, dtype=hold.dtype)
    t = (n[None, :] + 0.5) / release_steps[:, None]
    letting_go = 0.5 * hold[:, None] * (1.0 + torch.cos(math.pi * torch.clamp(t, max=1.0)))
    return torch.where(t < 1.0, letting_go, 0.0)
