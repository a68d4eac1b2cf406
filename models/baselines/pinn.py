"""A physics-informed network for the damped oscillator, solving the inverse problem.

The oscillator x''(t) + 2 sigma x'(t) + omega0^2 x(t) = 0 with x(0) = 1, x'(0) = 0 has the
closed form x(t) = exp(-sigma t) (cos(wd t) + (sigma / wd) sin(wd t)), wd = sqrt(omega0^2 -
sigma^2). From a few samples of x the PINN learns both the trajectory u(t) (an MLP of t) and
the unknown omega0 and sigma (trainable, started off the truth): the loss is the data misfit
plus the ODE residual, computed with autograd at collocation points and divided by omega0^2
so both terms have the size of x. omega0 and sigma are kept positive through their logs.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class Oscillator:
    """omega0 (rad/s), sigma (1/s) and the time span (s) observed."""

    omega0: float = 20.0
    sigma: float = 2.0
    duration: float = 1.0

    def __post_init__(self) -> None:
        if not (0.0 < self.sigma < self.omega0 and self.duration > 0.0):
            raise ValueError("need 0 < sigma < omega0 (underdamped) and a positive duration")

    def solution(self, t: np.ndarray) -> np.ndarray:
        wd = math.sqrt(self.omega0 ** 2 - self.sigma ** 2)
        return np.exp(-self.sigma * t) * (np.cos(wd * t) + self.sigma / wd * np.sin(wd * t))


@dataclass(frozen=True)
class PinnConfig:
    """Network, data and optimisation of the inverse problem."""

    hidden: int = 32
    layers: int = 3
    data_points: int = 30  # samples of x, evenly spread over the span
    noise: float = 0.0  # standard deviation of Gaussian noise added to them
    collocation: int = 256  # residual points
    physics_weight: float = 1.0
    steps: int = 12000
    lr: float = 2e-3
    omega0_start: float = 15.0  # the unknowns start here (the truth is not known)
    sigma_start: float = 1.0
    seed: int = 0


class Pinn(nn.Module):
    """u(t) as a tanh MLP of t / duration, and the unknown log omega0, log sigma."""

    def __init__(self, config: PinnConfig, duration: float) -> None:
        super().__init__()
        width, layers = config.hidden, [nn.Linear(1, config.hidden), nn.Tanh()]
        for _ in range(config.layers - 1):
            layers += [nn.Linear(width, width), nn.Tanh()]
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))
        self.duration = duration
        self.log_omega0 = nn.Parameter(torch.tensor(math.log(config.omega0_start)))
        self.log_sigma = nn.Parameter(torch.tensor(math.log(config.sigma_start)))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.net(t[:, None] / self.duration)[:, 0]

    def residual(self, t: torch.Tensor) -> torch.Tensor:
        """(u'' + 2 sigma u' + omega0^2 u) / omega0^2 at times t, shape (N,)."""
        t = t.detach().requires_grad_(True)
        u = self(t)
        du = torch.autograd.grad(u.sum(), t, create_graph=True)[0]
        ddu = torch.autograd.grad(du.sum(), t, create_graph=True)[0]
        omega0, sigma = self.log_omega0.exp(), self.log_sigma.exp()
        return (ddu + 2.0 * sigma * du) / omega0 ** 2 + u


def fit_inverse(oscillator: Oscillator, config: PinnConfig = PinnConfig()) -> dict:
    """Train on `config.data_points` (noisy) samples of the oscillator; returns the recovered omega0
    and sigma, their relative errors, the relMSE of u against the closed form on a dense
    grid, and the training time."""
    torch.manual_seed(config.seed)
    start = time.perf_counter()
    model = Pinn(config, oscillator.duration).double()
    t_data = np.linspace(0.0, oscillator.duration, config.data_points)
    t_data = torch.from_numpy(t_data)
    rng = np.random.default_rng(config.seed)
    x_data = oscillator.solution(t_data.numpy()) + config.noise * rng.standard_normal(len(t_data))
    x_data = torch.from_numpy(x_data)
    t_phys = torch.linspace(0.0, oscillator.duration, config.collocation, dtype=torch.float64)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.steps,
                                                          eta_min=config.lr / 100)
    for _ in range(config.steps):
        optimiser.zero_grad()
        data = torch.mean((model(t_data) - x_data) ** 2)
        physics = torch.mean(model.residual(t_phys) ** 2)
        (data + config.physics_weight * physics).backward()
        optimiser.step()
        schedule.step()
    omega0, sigma = float(model.log_omega0.detach().exp()), float(model.log_sigma.detach().exp())
    dense = np.linspace(0.0, oscillator.duration, 2000)
    with torch.no_grad():
        u = model(torch.from_numpy(dense)).numpy()
    x = oscillator.solution(dense)
    return {"omega0": omega0, "sigma": sigma,
            "omega0_error": abs(omega0 / oscillator.omega0 - 1.0),
            "sigma_error": abs(sigma / oscillator.sigma - 1.0),
            "relmse": float(np.mean((u - x) ** 2) / np.mean(x ** 2)),
            "parameters": sum(p.numel() for p in model.parameters()),
            "seconds": time.perf_counter() - start}
