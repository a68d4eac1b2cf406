"""The torch twin of a piano key's mistuned unisons (`synth.physics.losses`; the kernel's
`synth.kernels.lanes`, docs/design.md, "Losses"), differentiable in the loss record and the
mistuning, for fitting the prompt sound and the aftersound to recordings.

The SAV string (`models.sav.SAVScheme`, whose modes decay by the whole loss law) plays the
unisons' in-phase motion q; each of its modes is coupled to a linear mode x of their
cancelling motion, which decays by the string's own losses alone, by the force -c x on q and
-c q on x (c = unison_coupling x omega_s^2). Both take the half step's displacement of the
other, as the kernel steps them.
"""

from __future__ import annotations

import torch
from torch import nn

from models.losses import scheme_modes
from models.sav import SAVScheme
from synth.physics.losses import L_MISTUNING, string_decay, unison_coupling


class UnisonString(nn.Module):
    """A `SAVScheme` of B strings and their unisons' cancelling motion: the strings' loss
    records `losses` (B, LOSS_FIELDS) and gamma2, kappa (B,, normalised), with the scheme's
    modes and time step, set x's coefficients and the coupling, as `sav_voice.retune` does."""

    def __init__(self, scheme: SAVScheme, losses: torch.Tensor, gamma2: torch.Tensor,
                 kappa: torch.Tensor) -> None:
        super().__init__()
        self.scheme = scheme
        n_modes = scheme.omega2.shape[1]
        self.anti_omega2, self.anti_sigma = scheme_modes(losses, gamma2, kappa, n_modes,
                                                         scheme.k, decay=string_decay)
        self.coupling = unison_coupling(losses[:, L_MISTUNING])[:, None] * scheme.omega2

    def step(self, q, p, psi, x, y, force) -> tuple[torch.Tensor, ...]:
        """Advance (q, p (B, M), psi (B,)) and the cancelling motion (x, y (B, M)) one step
        under the force f(t_{n+1/2}) (B,)."""
        k = self.scheme.k
        q_half = q + 0.5 * k * p
        x_half = x + 0.5 * k * y
        q, p, psi = self.scheme.step(q, p, psi, force, modal_force=-self.coupling * x_half)
        y = ((1.0 - k * self.anti_sigma) * y
             - k * (self.anti_omega2 * x_half + self.coupling * q_half)) \
            / (1.0 + k * self.anti_sigma)
        return q, p, psi, x_half + 0.5 * k * y, y

    def rollout(self, q, p, psi, forces) -> tuple[torch.Tensor, torch.Tensor]:
        """Run len(forces[0]) steps from (q, p, psi) and x = y = 0 under forces (B, L);
        returns q and x after each step, (B, L, M) each."""
        x, y = torch.zeros_like(q), torch.zeros_like(q)
        qs, xs = [], []
        for n in range(forces.shape[1]):
            q, p, psi, x, y = self.step(q, p, psi, x, y, forces[:, n])
            qs.append(q)
            xs.append(x)
        return torch.stack(qs, 1), torch.stack(xs, 1)
