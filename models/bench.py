"""The torch side of `neural-strings bench`: the naive per-sample loops to compare against."""

from __future__ import annotations

import time

import numpy as np
import torch

from models.sav import ExactPotential, SAVScheme


def time_torch_loop(strings, n_steps: int) -> float:
    """Wall time (s) of `n_steps` per-sample SAV steps in torch (float64, one thread) for a
    `synth.bench.Strings` batch, from rest, exact potential."""
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
