"""The torch side of `neural-strings bench`: the naive per-sample loops to compare against."""

from __future__ import annotations

import time

import numpy as np
import torch

from models.sav import ExactPotential, SAVScheme


def time_torch_loop(strings, n_steps: int) -> float:
    """Wall time (s) of `n_steps` per-sample SAV steps in torch (float64, one thread) for a
    `synth.bench.physics.Strings` batch, from rest, exact potential."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
        scheme = SAVScheme(ExactPotential(strings.n_modes), as_tensor(strings.omega2),
                           as_tensor(strings.sigma), as_tensor(strings.nu2),
                           as_tensor(strings.phi_e), 1.0 / strings.fs)
        q = torch.zeros(strings.batch, strings.n_modes, dtype=torch.float64)
        p = torch.zeros_like(q)
        psi = scheme.psi_of(q)
        forces = as_tensor(np.stack([strings.forces(n) for n in range(n_steps)]))
        with torch.no_grad():
            start = time.perf_counter()
            for n in range(n_steps):
                q, p, psi = scheme.step(q, p, psi, forces[n])
            return time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)


def time_torch_gradnet_loop(voices: int, hidden: int, n_modes: int, n_steps: int) -> float:
    """Seconds per sample of per-sample SAV steps in torch with a GradNet potential
    (float32, one thread, voices batched), free vibration after a pluck."""
    from models.gradnet import GradNetPotential

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net = GradNetPotential(n_modes, hidden, dtype=torch.float32)
        beta = torch.arange(1, n_modes + 1, dtype=torch.float32) * np.pi
        omega2 = (150.0 * beta) ** 2 + (1.03 * beta**2) ** 2
        scheme = SAVScheme(net, omega2.repeat(voices, 1), torch.full((voices, n_modes), 3.0),
                           torch.full((voices,), 150.0**2),
                           torch.ones(voices, n_modes), 1.0 / 48000)
        q = 1e-3 * torch.randn(voices, n_modes)
        p = torch.zeros_like(q)
        psi = scheme.psi_of(q)
        force = torch.zeros(voices)
        with torch.no_grad():
            for _ in range(10):
                q, p, psi = scheme.step(q, p, psi, force)
            start = time.perf_counter()
            for _ in range(n_steps):
                q, p, psi = scheme.step(q, p, psi, force)
            return (time.perf_counter() - start) / n_steps
    finally:
        torch.set_num_threads(threads)
