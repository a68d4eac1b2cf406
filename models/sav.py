"""The SAV scheme (docs/design.md, "The string and its SAV step") in torch, batched over
strings (and segments).

The same equations as `synth.kernels.sav`, written the way research code runs them: one
`step` call per sample on (B, M) tensors. Potentials return V (B,) and grad V (B, M) in
closed form. Works in float32 and float64; the drift control carries no gradient, which
over the training's segments (`recipe.train.segment_ms`, 1 ms) costs nothing measurable: on a
hard pluck with a perturbed stretch GradNet the gradient is within 0.9 % of its finite
difference over 400 steps at 48 kHz, but 31 % off over 2400 steps, so a longer rollout
differentiates it (`models.nonlinearity.lane_outputs`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

EPS = 1e-12
LAMBDA0 = 1e3


class ExactPotential(nn.Module):
    """Geometric string: V = (1/N) sum G(xi), xi = T^T q at N = M + 1 midpoints."""

    def __init__(self, n_modes: int, dtype=torch.float64) -> None:
        super().__init__()
        n_points = n_modes + 1
        beta = torch.arange(1, n_modes + 1, dtype=torch.float64) * math.pi
        x = (torch.arange(n_points, dtype=torch.float64) + 0.5) / n_points
        table = math.sqrt(2.0) * beta[:, None] * torch.cos(beta[:, None] * x[None, :])
        self.register_buffer("table", table.to(dtype))  # (M, N): u_x = q @ table
        self.n_points = n_points

    def forward(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xi = q @ self.table
        s = torch.sqrt(1.0 + xi * xi)
        a = xi * xi / (1.0 + s)  # sqrt(1 + xi^2) - 1 without cancellation
        value = (a * a).sum(-1) / self.n_points
        grad = (2.0 * xi * a / s) @ self.table.T / self.n_points
        return value, grad


class KirchhoffCarrierPotential(nn.Module):
    """Tension modulation: V = (1/8) (sum beta^2 q^2)^2, grad V = (1/2) (sum beta^2 q^2)
    beta^2 q."""

    def __init__(self, n_modes: int, dtype=torch.float64) -> None:
        super().__init__()
        beta2 = (torch.arange(1, n_modes + 1, dtype=torch.float64) * math.pi) ** 2
        self.register_buffer("beta2", beta2.to(dtype))

    def forward(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stretch = (self.beta2 * q * q).sum(-1)
        return 0.125 * stretch * stretch, 0.5 * stretch[..., None] * self.beta2 * q


class SAVScheme(nn.Module):
    """One SAV step for B strings with per-mode omega_s^2 and sigma_s (B, M), nu^2 (B,) and
    excitation shapes phi_e (B, M); k is the time step (s)."""

    def __init__(self, potential: nn.Module, omega2: torch.Tensor, sigma: torch.Tensor,
                 nu2: torch.Tensor, phi_e: torch.Tensor, k: float,
                 lambda0: float = LAMBDA0) -> None:
        super().__init__()
        self.potential = potential
        self.register_buffer("omega2", omega2)
        self.register_buffer("sigma", sigma)
        self.register_buffer("nu2", nu2[:, None])
        self.register_buffer("phi_e", phi_e)
        self.k = k
        self.lambda0 = lambda0

    @classmethod
    def for_strings(cls, potential: nn.Module, strings, lambda0: float = LAMBDA0) -> SAVScheme:
        """The scheme for a `models.strings.StringBatch`."""
        return cls(potential, strings.omega2, strings.sigma, strings.nu2, strings.phi_e,
                   strings.k, lambda0)

    def psi_of(self, q: torch.Tensor) -> torch.Tensor:
        """The consistent auxiliary variable sqrt(2 V(q) + eps), shape (B,)."""
        return torch.sqrt(2.0 * self.potential(q)[0] + EPS)

    def step(self, q: torch.Tensor, p: torch.Tensor, psi: torch.Tensor, force: torch.Tensor,
             modal_force: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor,
                                                                torch.Tensor]:
        """Advance (q, p (B, M), psi (B,)) one step under force f(t_{n+1/2}) (B,) at the
        excitation's shape, and `modal_force` (B, M) on each mode if given."""
        k = self.k
        q_half = q + 0.5 * k * p
        value, grad = self.potential(q_half)
        g = grad / torch.sqrt(2.0 * value + EPS)[:, None]
        if self.lambda0 > 0.0:
            with torch.no_grad():  # drift control carries no gradient
                drift = psi - self.psi_of(q)
                g_mod = -self.lambda0 * drift[:, None] * torch.sign(p) \
                    / (p.abs().sum(-1, keepdim=True) + EPS)
            g = g + g_mod
        d_plus = 1.0 + k * self.sigma
        a = 0.5 * k * torch.sqrt(self.nu2) * g  # (D + a a^T) p' = rhs, by Sherman-Morrison
        forcing = self.phi_e * force[:, None]
        if modal_force is not None:
            forcing = forcing + modal_force
        rhs = (1.0 - k * self.sigma) * p - a * (a * p).sum(-1, keepdim=True) \
            + k * (-self.omega2 * q_half - self.nu2 * g * psi[:, None] + forcing)
        b = a / d_plus
        p_next = rhs / d_plus \
            - b * (b * rhs).sum(-1, keepdim=True) / (1.0 + (a * b).sum(-1, keepdim=True))
        psi_next = psi + 0.5 * k * (g * (p + p_next)).sum(-1)
        return q_half + 0.5 * k * p_next, p_next, psi_next

    def run(self, q: torch.Tensor, p: torch.Tensor,
            forces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`rollout` from a recorded (q, p), psi consistent with q: q, p (B, L, M)."""
        qs, ps, _ = self.rollout(q, p, self.psi_of(q), forces)
        return qs, ps

    def rollout(self, q: torch.Tensor, p: torch.Tensor, psi: torch.Tensor,
                forces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run len(forces[0]) steps from (q, p, psi) under forces (B, L); returns the states
        after each step: q, p (B, L, M) and psi (B, L)."""
        qs, ps, psis = [], [], []
        for n in range(forces.shape[1]):
            q, p, psi = self.step(q, p, psi, forces[:, n])
            qs.append(q)
            ps.append(p)
            psis.append(psi)
        return torch.stack(qs, 1), torch.stack(ps, 1), torch.stack(psis, 1)


def free_run(potential: nn.Module, strings, n_steps: int, lambda0: float = LAMBDA0,
             record: bool = True) -> dict:
    """Simulate `strings` (a StringBatch) from rest for n_steps under their excitations.

    Returns w (B, N) and, with record, q and p (B, N, M) and psi (B, N): sample n is the
    state after n + 1 steps, as `neural-strings simulate` writes it. No gradients.
    """
    scheme = SAVScheme.for_strings(potential, strings, lambda0)
    dtype = strings.omega2.dtype
    q = torch.zeros_like(strings.omega2)
    p = torch.zeros_like(q)
    with torch.no_grad():
        psi = scheme.psi_of(q)
        steps = torch.arange(n_steps)[None, :].expand(q.shape[0], -1)
        forces = strings.forces(steps)
        w = torch.empty(q.shape[0], n_steps, dtype=dtype)
        out = {"q": [], "p": [], "psi": []}
        for n in range(n_steps):
            q, p, psi = scheme.step(q, p, psi, forces[:, n])
            w[:, n] = (strings.phi_o * q).sum(-1)
            if record:
                out["q"].append(q)
                out["p"].append(p)
                out["psi"].append(psi)
    if not record:
        return {"w": w}
    return {"w": w, "q": torch.stack(out["q"], 1), "p": torch.stack(out["p"], 1),
            "psi": torch.stack(out["psi"], 1)}
