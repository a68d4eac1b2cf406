"""A batch of strings for the torch SAV scheme, built from `neural-strings simulate` parameters.

The linear part comes from `synth.physics.simulate.linear_part`, the same function the Numba
kernels use, so the torch model and the runtime drop the same modes and warp alike.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from synth.errors import ModesDroppedWarning
from synth.physics.modes import mode_shapes
from synth.physics.simulate import SimulationSpec, linear_part


@dataclass(frozen=True)
class StringBatch:
    """B strings at one rate: scheme omega_s^2 and sigma_s, pickup and excitation shapes, all
    (B, M); nu^2, force amplitude A, excitation length T_e fs (steps) and shape code, all (B,);
    k the time step (s). Dropped modes have zero coefficients and zero shapes."""

    omega2: torch.Tensor
    sigma: torch.Tensor
    nu2: torch.Tensor
    phi_e: torch.Tensor
    phi_o: torch.Tensor
    amplitude: torch.Tensor
    length: torch.Tensor
    shape: torch.Tensor
    n_active: tuple[int, ...]
    k: float

    @classmethod
    def from_params(cls, params: list[dict], dtype=torch.float64, fs: float | None = None,
                    quiet: bool = True) -> StringBatch:
        """Strings from simulate dicts (all with the same fs and n_modes unless fs is given,
        which overrides theirs). quiet: do not warn about dropped modes."""
        specs = [SimulationSpec.from_dict({**p, "fs": fs} if fs else p) for p in params]
        rates = {s.fs for s in specs}
        sizes = {s.n_modes for s in specs}
        if len(rates) != 1 or len(sizes) != 1:
            raise ValueError(f"a batch needs one fs and one n_modes, got {rates} and {sizes}")
        M = sizes.pop()
        rows = {name: [] for name in ("omega2", "sigma", "phi_e", "phi_o")}
        n_active = []
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore", ModesDroppedWarning)
            for s in specs:
                linear = linear_part(s.string, M, s.fs, s.warp)
                keep = np.arange(M) < linear.n_active
                rows["omega2"].append(linear.omega2)
                rows["sigma"].append(linear.sigma)
                rows["phi_e"].append(s.excitation.weights(M) * keep)
                rows["phi_o"].append(mode_shapes(s.pickup, M) * keep)
                n_active.append(linear.n_active)
        as_tensor = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype)  # noqa: E731
        return cls(**{name: as_tensor(np.stack(r)) for name, r in rows.items()},
                   nu2=as_tensor([s.string.nu ** 2 for s in specs]),
                   amplitude=as_tensor([s.excitation.amplitude for s in specs]),
                   length=as_tensor([s.excitation.duration * s.fs for s in specs]),
                   shape=as_tensor([s.excitation.shape for s in specs]),
                   n_active=tuple(n_active), k=1.0 / rates.pop())

    @property
    def n_modes(self) -> int:
        return self.omega2.shape[1]

    def select(self, index: torch.Tensor) -> StringBatch:
        """The strings at `index` (a 1-D index tensor), in that order."""
        picked = {name: getattr(self, name)[index] for name in
                  ("omega2", "sigma", "nu2", "phi_e", "phi_o", "amplitude", "length", "shape")}
        return StringBatch(**picked, n_active=tuple(self.n_active[i] for i in index.tolist()),
                           k=self.k)

    def forces(self, steps: torch.Tensor) -> torch.Tensor:
        """Force f at the midpoint of each step: steps (B, L) are step indices counted from
        the onset (step j moves the state after j steps to the state after j + 1); (B, L)."""
        t = (steps.to(self.amplitude.dtype) + 0.5) / self.length[:, None]
        pulse = 0.5 * self.amplitude[:, None] * (1.0 - torch.cos(self.shape[:, None] * math.pi * t))
        return torch.where((t >= 0.0) & (t <= 1.0), pulse, torch.zeros_like(pulse))
