"""The Stormer-Verlet neural ODE (tutorial; DAFx 2025): the modal string with a learned force.

The linear part is the string's own (omega_s^2, sigma_s from `models.strings`, as the SAV
scheme has it); the nonlinear force is a free MLP of the modal displacements, nu^2 F(q), with
no energy structure, so nothing guarantees stability. One step per sample, a position-Verlet
(leapfrog) step with the damping taken at the midpoint:

    q_half = q + k/2 p
    (1 + k sigma) p' = (1 - k sigma) p + k (-omega^2 q_half - nu^2 F(q_half) + phi_e f)
    q' = q_half + k/2 p'

With F = grad V of the exact potential this is the explicit counterpart of the SAV step.
Its family, "verlet-node", trains through `models.train` like the GradNet: force matching on
the implied force, then teacher-forced segments.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from models.family import Family
from models.schemes import SegmentTraining


class MLPForce(nn.Module):
    """F(q) (B, M) = s_out * MLP(s_in * q * beta), beta_m = m pi (a slope of order one per
    mode, as the GradNet's column scale); `layers` hidden layers of `hidden` tanh units."""

    def __init__(self, n_modes: int, hidden: int, layers: int = 2, dtype=torch.float32,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        generator = generator or torch.Generator().manual_seed(0)
        sizes = [n_modes] + [hidden] * layers + [n_modes]
        self.linears = nn.ModuleList(nn.Linear(a, b, dtype=dtype)
                                     for a, b in itertools.pairwise(sizes))
        with torch.no_grad():
            for linear in self.linears:
                bound = 1.0 / math.sqrt(linear.in_features)
                linear.weight.uniform_(-bound, bound, generator=generator)
                linear.bias.zero_()
        self.register_buffer("column_scale",
                             torch.arange(1, n_modes + 1, dtype=dtype) * math.pi)
        self.log_scale_in = nn.Parameter(torch.zeros((), dtype=dtype))
        self.log_scale_out = nn.Parameter(torch.zeros((), dtype=dtype))

    def force(self, q: torch.Tensor) -> torch.Tensor:
        x = q * self.column_scale * self.log_scale_in.exp()
        for linear in self.linears[:-1]:
            x = torch.tanh(linear(x))
        return self.linears[-1](x) * self.log_scale_out.exp()

    @torch.no_grad()
    def calibrate(self, q: torch.Tensor, force: torch.Tensor) -> None:
        """Set the input scale so the first layer sees unit-size inputs, and the output scale
        to the size of `force` (B, M) at q (B, M)."""
        spread = (q * self.column_scale).std().clamp_min(1e-30)
        self.log_scale_in.fill_(-math.log(float(spread)))
        out = self.force(q).std().clamp_min(1e-30)
        self.log_scale_out += math.log(float(force.std().clamp_min(1e-30) / out))


class VerletScheme(nn.Module):
    """The step above for B strings: omega_s^2, sigma_s, phi_e (B, M), nu^2 (B,), step k (s)."""

    def __init__(self, network: MLPForce, omega2: torch.Tensor, sigma: torch.Tensor,
                 nu2: torch.Tensor, phi_e: torch.Tensor, k: float) -> None:
        super().__init__()
        self.network = network
        self.omega2, self.sigma, self.phi_e, self.k = omega2, sigma, phi_e, k
        self.nu2 = nu2[:, None]

    @classmethod
    def for_strings(cls, network: MLPForce, strings) -> VerletScheme:
        return cls(network, strings.omega2, strings.sigma, strings.nu2, strings.phi_e,
                   strings.k)

    def step(self, q: torch.Tensor, p: torch.Tensor,
             force: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Advance (q, p) (B, M) one step under the excitation force f (B,)."""
        k = self.k
        q_half = q + 0.5 * k * p
        push = -self.omega2 * q_half - self.nu2 * self.network.force(q_half) \
            + self.phi_e * force[:, None]
        p_next = ((1.0 - k * self.sigma) * p + k * push) / (1.0 + k * self.sigma)
        return q_half + 0.5 * k * p_next, p_next

    def run(self, q: torch.Tensor, p: torch.Tensor,
            forces: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """States after each of len(forces[0]) steps from (q, p): q, p (B, L, M)."""
        qs, ps = [], []
        for n in range(forces.shape[1]):
            q, p = self.step(q, p, forces[:, n])
            qs.append(q)
            ps.append(p)
        return torch.stack(qs, 1), torch.stack(ps, 1)


def free_run(network: MLPForce, strings, n_steps: int) -> dict:
    """Run `strings` (a StringBatch) from rest for n_steps under their excitations, without
    gradients: w (B, N) and q (B, N, M), sample n the state after n + 1 steps."""
    scheme = VerletScheme.for_strings(network, strings)
    q = torch.zeros_like(strings.omega2)
    p = torch.zeros_like(q)
    qs = []
    with torch.no_grad():
        forces = strings.forces(torch.arange(n_steps)[None, :].expand(q.shape[0], -1))
        for n in range(n_steps):
            q, p = scheme.step(q, p, forces[:, n])
            qs.append(q)
    q = torch.stack(qs, 1)
    return {"q": q, "w": (q * strings.phi_o[:, None, :]).sum(-1)}


def _network(recipe, dtype) -> MLPForce:
    generator = torch.Generator().manual_seed(recipe.seed)
    return MLPForce(recipe.n_modes, recipe.option("hidden"), dtype=dtype, generator=generator)


FAMILY = Family(
    name="verlet-node", title="Stormer-Verlet neural ODE with an MLP force (offline baseline)",
    options={"hidden": 128}, network=_network, scheme=SegmentTraining(VerletScheme),
    free_run=free_run)
