"""The torch twin of the piano hammer in the SAV scheme (`synth.kernels.lanes`, the struck
step; docs/design.md, "The hammer"), batched over strings and differentiable in the hammer's
mass, felt and speed, for fitting a piano to recordings.

A hammer of mass ratio r, felt stiffness and exponent p (normalised, `synth.physics.hammer`)
meets the string at rest at velocity v: its displacement y, the felt's potential
W(c) = felt max(c, 0)^(p+1) / (p + 1) of the compression c = y - Phi_h . q, and an auxiliary
variable psi_h of its own. One step solves the rank-two system of the kernel in closed form,
so the discrete energy of string and hammer never grows; psi_h has no drift control and is
set back to sqrt(eps) out of contact, as in the kernel. The string's drift control carries
no gradient.
"""

from __future__ import annotations

import torch
from torch import nn

from models.sav import EPS, SAVScheme
from synth.physics.hammer import felt_force, felt_potential


class StruckString(nn.Module):
    """B strings of a `SAVScheme` (its phi_e unused) struck by hammers: mass ratio, felt and
    exponent (B,), and the contact's shape phi_h (B, M) (`synth.physics.modes`: Phi_m(x_h)
    times `contact_profile`)."""

    def __init__(self, scheme: SAVScheme, mass: torch.Tensor, felt: torch.Tensor,
                 exponent: torch.Tensor, phi_h: torch.Tensor) -> None:
        super().__init__()
        self.scheme = scheme
        self.mass, self.felt, self.exponent, self.phi_h = mass, felt, exponent, phi_h

    def start(self, speed: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The state (q, p (B, M), psi, y, v, psi_h (B,)) of strings at rest with their
        hammers meeting them at `speed` (B, normalised: m/s over the length)."""
        q = torch.zeros_like(self.phi_h)
        rest = torch.full_like(speed, EPS ** 0.5)
        return q, torch.zeros_like(q), self.scheme.psi_of(q), torch.zeros_like(speed), speed, \
            rest

    def step(self, q, p, psi, y, v, psi_h) -> tuple[torch.Tensor, ...]:
        """Advance the state one step (what `start` returns)."""
        scheme, phi = self.scheme, self.phi_h
        k, nu2 = scheme.k, scheme.nu2[:, 0]
        felt, exponent = self.felt, self.exponent
        q_half = q + 0.5 * k * p
        value, grad = scheme.potential(q_half)
        g = grad / torch.sqrt(2.0 * value + EPS)[:, None]
        c_half = y - (phi * q).sum(-1) + 0.5 * k * (v - (phi * p).sum(-1))
        s = felt_force(c_half, felt, exponent) \
            / torch.sqrt(2.0 * felt_potential(c_half, felt, exponent) + EPS)
        if scheme.lambda0 > 0.0:
            with torch.no_grad():
                drift = psi - scheme.psi_of(q)
                g = g - scheme.lambda0 * drift[:, None] * torch.sign(p) \
                    / (p.abs().sum(-1, keepdim=True) + EPS)
        d = 1.0 + k * scheme.sigma
        gain = k / d
        base = ((1.0 - k * scheme.sigma) * p - k * scheme.omega2 * q_half) / d
        h, h2 = 0.25 * k * nu2, 0.25 * k * s * s
        first = nu2 * psi + h * ((g * p).sum(-1) + (g * base).sum(-1))
        second = s * psi_h + h2 * (2.0 * v - (phi * p).sum(-1) - (phi * base).sum(-1))
        d22 = 1.0 + h2 * (k / self.mass + (phi * gain * phi).sum(-1))
        cross = (g * gain * phi).sum(-1)
        a = (first + h * cross * second / d22) \
            / (1.0 + h * (g * gain * g).sum(-1) - h * h2 * cross * cross / d22)
        b = (second + h2 * cross * a) / d22
        p_next = base - gain * (a[:, None] * g - b[:, None] * phi)
        v_next = v - k / self.mass * b
        psi_next = psi + 0.5 * k * (g * (p + p_next)).sum(-1)
        psi_h_next = psi_h + 0.5 * k * s * (v + v_next - (phi * (p + p_next)).sum(-1))
        rest = torch.full_like(psi_h_next, EPS ** 0.5)
        psi_h_next = torch.where((s == 0.0) & (psi_h_next.abs() > rest), rest, psi_h_next)
        return (q_half + 0.5 * k * p_next, p_next, psi_next, y + 0.5 * k * (v + v_next),
                v_next, psi_h_next)
