"""The nonlinear potentials of the string (docs/design.md, "The string and its SAV step"), as
tables for the Numba kernels.

`make_potential(name, n_modes)` returns a `Potential`: its name and its tables, a NamedTuple
whose class tells the kernels which potential it is (see `synth.kernels.potentials` for the
layouts), with `value` and `gradient` for use from Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.errors import ParameterError
from synth.kernels import potentials as kernels
from synth.kernels.aligned import aligned_table, aligned_zeros, padded
from synth.physics.modes import check_mode_count, wavenumbers

NAMES = ("linear", "kc", "exact")  # the physical potentials (a learned one comes with weights)


@dataclass(frozen=True, eq=False)
class Potential:
    """A potential V(q) over n_modes modes, in the form the SAV kernels take.

    name: "exact", "kc", "linear" or "gradnet"; tables: its `synth.kernels.potentials`
    tables, every array of the kernels' dtype.
    """

    name: str
    n_modes: int
    tables: tuple

    def __post_init__(self) -> None:
        if type(self.tables) not in kernels.IMPLEMENTATIONS:
            raise ParameterError(f"potential {self.name!r} has tables of an unknown kind "
                                 f"({type(self.tables).__name__})")
        if any(t.ndim != 2 for t in self.tables):
            raise ParameterError(f"potential {self.name!r} needs 2-D tables")

    @property
    def dtype(self) -> np.dtype:
        return self.tables[0].dtype

    def scratch(self) -> np.ndarray:
        """A fresh work array for the kernels, shape (SCRATCH_ROWS, width), rows aligned."""
        width = max([self.n_modes + 1] + [max(t.shape) for t in self.tables])
        return aligned_zeros((kernels.SCRATCH_ROWS, padded(width, self.dtype)), self.dtype)

    def astype(self, dtype) -> Potential:
        """The same potential with tables in `dtype` (float32 for the real-time kernels)."""
        return Potential(self.name, self.n_modes, type(self.tables)(
            *(aligned_table(t, dtype) for t in self.tables)))

    def value(self, q: np.ndarray) -> float:
        """V(q) for a modal displacement q, shape (M,)."""
        q = self._check(q)
        return float(kernels.potential(self.tables, q, q.shape[0], self.scratch(),
                                       np.zeros_like(q), False))

    def gradient(self, q: np.ndarray) -> np.ndarray:
        """dV/dq for a modal displacement q, shape (M,)."""
        q = self._check(q)
        grad = np.zeros_like(q)
        kernels.potential(self.tables, q, q.shape[0], self.scratch(), grad, True)
        return grad

    def _check(self, q: np.ndarray) -> np.ndarray:
        q = np.ascontiguousarray(q, dtype=self.dtype)
        if q.shape != (self.n_modes,):
            raise ParameterError(f"q must have shape ({self.n_modes},), got {q.shape}")
        return q


def make_potential(name: str, n_modes: int, dtype=np.float64) -> Potential:
    """The named physical potential ("exact", "kc" or "linear") over n_modes modes."""
    n_modes = check_mode_count(n_modes)
    if name not in NAMES:
        raise ParameterError(f"nonlinearity must be one of {sorted(NAMES)}, got {name!r}")
    if name == "exact":
        backward = _slope_transform(n_modes)
        tables = kernels.ExactTables(backward[0::2].T, backward[1::2].T, backward)
    elif name == "kc":
        tables = kernels.KirchhoffCarrierTables((wavenumbers(n_modes) ** 2)[np.newaxis, :])
    else:
        tables = kernels.LinearTables(np.zeros((1, 1)))
    return Potential(name, n_modes, type(tables)(*(aligned_table(t, dtype) for t in tables)))


def _slope_transform(n_modes: int) -> np.ndarray:
    """T[m, n] = sqrt(2) beta_m cos(beta_m (n + 1/2) / N) for the first ceil(N/2) of N = M + 1
    midpoints, shape (M, ceil(N/2)); u_x at midpoint n is sum_m T[m, n] q_m."""
    n_points = n_modes + 1
    half_up = (n_points + 1) // 2
    mode = np.arange(1, n_modes + 1)[:, np.newaxis]
    point = np.arange(half_up)[np.newaxis, :]
    table = np.sqrt(2.0) * (mode * np.pi) * np.cos(np.pi * mode * (2 * point + 1) / (2 * n_points))
    if n_points % 2 == 1:
        table[0::2, -1] = 0.0  # odd mode numbers vanish exactly at the middle point x = 1/2
    return table


def gradnet_potential(weight: np.ndarray, bias: np.ndarray, log_scale_in: np.ndarray,
                      log_scale_out: np.ndarray, dtype=np.float64,
                      activation: str = "leaky") -> Potential:
    """A learned C-GradNet potential from its raw parameters (docs/design.md, "Model kinds").

    weight W (H, M), bias b, log_scale_in s_in and log_scale_out s_out (H,):
    V(q) = sum_j exp(s_out_j) A(exp(s_in_j) (W q)_j + b_j), with A(z) = z max(z, 0.01 z) / 2
    (activation "leaky", the paper's) or A(z) = z^2/2 + 1 - sqrt(1 + z^2) ("stretch").
    """
    if activation not in kernels.ACTIVATIONS:
        raise ParameterError(f"GradNet activation must be one of {sorted(kernels.ACTIVATIONS)}, "
                             f"got {activation!r}")
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 2:
        raise ParameterError(f"GradNet weight must be 2-D (hidden, modes), got {weight.shape}")
    n_hidden, n_modes = weight.shape
    vectors = [np.asarray(v, dtype=np.float64) for v in (bias, log_scale_in, log_scale_out)]
    for name, vector in zip(("bias", "log_scale_in", "log_scale_out"), vectors, strict=True):
        if vector.shape != (n_hidden,):
            raise ParameterError(f"GradNet {name} must have shape ({n_hidden},), got "
                                 f"{vector.shape}")
    if not all(np.isfinite(a).all() for a in (weight, *vectors)):
        raise ParameterError("GradNet parameters must be finite")
    bias, log_in, log_out = vectors
    scaled = np.exp(log_in)[:, None] * weight  # Wp = diag(exp(s_in)) W
    code = np.full(n_hidden, kernels.ACTIVATIONS[activation])
    tables = kernels.GradNetTables(scaled, scaled.T, np.stack([bias, np.exp(log_out), code]))
    return Potential("gradnet", check_mode_count(n_modes),
                     kernels.GradNetTables(*(aligned_table(t, dtype) for t in tables)))
