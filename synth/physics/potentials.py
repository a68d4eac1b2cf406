"""The nonlinear potentials of DESIGN.md section 3, as tables for the Numba kernels.

`make_potential(name, n_modes)` returns a `Potential`: the integer kind the kernels dispatch
on and its weight tables (see `synth.kernels.potentials` for their layout), with `value` and
`gradient` for use from Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synth.errors import ParameterError
from synth.kernels import potentials as kernels
from synth.kernels.aligned import aligned_table, aligned_zeros, padded
from synth.physics.modes import check_mode_count, wavenumbers

KINDS = {"linear": kernels.LINEAR, "kc": kernels.KIRCHHOFF_CARRIER, "exact": kernels.EXACT}
KNOWN_KINDS = (*KINDS.values(), kernels.GRADNET)


@dataclass(frozen=True, eq=False)
class Potential:
    """A potential V(q) over n_modes modes, in the form the SAV kernels take.

    name: "exact", "kc", "linear" or a learned kind; kind: kernel constant; tables: the four
    2-D weight arrays of `synth.kernels.potentials`, all of the kernels' dtype.
    """

    name: str
    kind: int
    n_modes: int
    tables: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]

    def __post_init__(self) -> None:
        if self.kind not in KNOWN_KINDS:
            raise ParameterError(f"unknown potential kind {self.kind!r} for {self.name!r}")
        if len(self.tables) != 4 or any(t.ndim != 2 for t in self.tables):
            raise ParameterError(f"potential {self.name!r} needs four 2-D tables")

    @property
    def dtype(self) -> np.dtype:
        return self.tables[0].dtype

    def scratch(self) -> np.ndarray:
        """A fresh work array for the kernels, shape (SCRATCH_ROWS, width), rows aligned."""
        width = max([self.n_modes + 1] + [max(t.shape) for t in self.tables])
        return aligned_zeros((kernels.SCRATCH_ROWS, padded(width, self.dtype)), self.dtype)

    def astype(self, dtype) -> Potential:
        """The same potential with tables in `dtype` (float32 for the real-time kernels)."""
        return Potential(self.name, self.kind, self.n_modes,
                         tuple(aligned_table(t, dtype) for t in self.tables))

    def value(self, q: np.ndarray) -> float:
        """V(q) for a modal displacement q, shape (M,)."""
        q = self._check(q)
        return float(kernels.potential(self.kind, q, q.shape[0], self.tables, self.scratch(),
                                       np.zeros_like(q), False))

    def gradient(self, q: np.ndarray) -> np.ndarray:
        """dV/dq for a modal displacement q, shape (M,)."""
        q = self._check(q)
        grad = np.zeros_like(q)
        kernels.potential(self.kind, q, q.shape[0], self.tables, self.scratch(), grad, True)
        return grad

    def _check(self, q: np.ndarray) -> np.ndarray:
        q = np.ascontiguousarray(q, dtype=self.dtype)
        if q.shape != (self.n_modes,):
            raise ParameterError(f"q must have shape ({self.n_modes},), got {q.shape}")
        return q


def make_potential(name: str, n_modes: int, dtype=np.float64) -> Potential:
    """The named physical potential ("exact", "kc" or "linear") over n_modes modes."""
    n_modes = check_mode_count(n_modes)
    if name not in KINDS:
        raise ParameterError(f"nonlinearity must be one of {sorted(KINDS)}, got {name!r}")
    unused = np.zeros((1, 1))
    if name == "exact":
        bwd = _slope_transform(n_modes)
        tables = (bwd[0::2].T, bwd[1::2].T, bwd, unused)
    elif name == "kc":
        tables = ((wavenumbers(n_modes) ** 2)[np.newaxis, :], unused, unused, unused)
    else:
        tables = (unused, unused, unused, unused)
    return Potential(name, KINDS[name], n_modes, tuple(aligned_table(t, dtype) for t in tables))


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
    """A learned C-GradNet potential from its raw parameters (DESIGN.md section 6).

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
    tables = (scaled, scaled.T, np.stack([bias, np.exp(log_out), code]), np.zeros((1, 1)))
    return Potential("gradnet", kernels.GRADNET, check_mode_count(n_modes),
                     tuple(aligned_table(t, dtype) for t in tables))
