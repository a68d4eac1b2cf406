"""Nonlinear potentials V(q) >= 0 and their exact gradients, as Numba kernels.

A potential is its tables: a NamedTuple whose class says which potential it is and whose
C-contiguous 2-D arrays hold its weights (`synth.physics.potentials` builds them). Kernels
are compiled for the tables' class, so a string with the exact potential compiles only the
exact potential's code, and `potential(tables, ...)` picks the implementation at compile time.

- LinearTables: V = 0.
- KirchhoffCarrierTables: V = (1/8) (sum beta_m^2 q_m^2)^2; beta2[0, :M] = beta^2.
- ExactTables (geometric string): slopes xi_n = u_x(x_n) at the N = M + 1 midpoints
  x_n = (n + 1/2) / N, V = (1/N) sum G(xi_n) with G(xi) = (sqrt(1 + xi^2) - 1)^2, and
  dV/dq_m = (1/N) sum_n T[m, n] G'(xi_n), where T[m, n] = sqrt(2) beta_m cos(beta_m x_n) is
  the orthonormal DCT of the slopes scaled by sqrt(N) (docs/design.md, "The string and its
  SAV step"). Mode m has parity (-1)^(m+1) under x -> 1 - x, so only the first
  H2 = ceil(N/2) points are transformed: forward_odd = T[odd mode numbers, :H2].T,
  forward_even = T[even mode numbers, :H2].T and backward = T[:, :H2], shapes
  (H2, ceil(M/2)), (H2, floor(M/2)), (M, H2), so both directions are contiguous dots.
- GradNetTables (the paper's C-GradNet): with z = Wp q + b and Wp = diag(exp(s_in)) W (H, M),
  V = sum_j e_j A(z_j), e = exp(s_out), and grad V = Wp^T (e * A'(z)); V >= 0 and convex.
  The activation A' is the paper's LeakyReLU(0.01), A(z) = z max(z, 0.01 z) / 2, or the
  smooth "stretch" activation A'(z) = z (1 - 1/sqrt(1 + z^2)), A(z) = z^2/2 + 1 -
  sqrt(1 + z^2): the energy of a stretched string element, quartic at rest, quadratic far
  out. weights = Wp (H, M), weights_t = Wp^T (M, H), vectors = [b; e; a] (3, H), with a = 1
  (every entry) for the stretch activation and 0 for LeakyReLU.

Rows may be zero-padded to whole cache lines (`synth.kernels.aligned`). Scratch rows 0..3
(width >= M + 1) are used here; callers may use rows 4 and up.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from synth.kernels.dispatch import class_test, dispatch
from synth.kernels.options import INLINE, KERNEL

SCRATCH_ROWS = 8
LEAK = 0.01  # negative slope of the GradNet's LeakyReLU
ACTIVATIONS = {"leaky": 0.0, "stretch": 1.0}  # the GradNet's activation codes (vectors[2])
_XI, _SUM, _DIFF, _ODD_Q, _EVEN_Q = 0, 1, 2, 3, 2  # scratch rows (_EVEN_Q is free before _DIFF)


class LinearTables(NamedTuple):
    """No nonlinearity: V = 0."""

    placeholder: np.ndarray  # (1, 1)


class KirchhoffCarrierTables(NamedTuple):
    """Tension modulation: beta2 (1, M) = (m pi)^2."""

    beta2: np.ndarray


class ExactTables(NamedTuple):
    """The geometric string's slope transform over half the midpoints (module docstring)."""

    forward_odd: np.ndarray
    forward_even: np.ndarray
    backward: np.ndarray


class GradNetTables(NamedTuple):
    """A C-GradNet: Wp (H, M), Wp^T (M, H) and [b; e; a] (3, H)."""

    weights: np.ndarray
    weights_t: np.ndarray
    vectors: np.ndarray


@njit(**KERNEL)
def _exact(tables, q, n_act, scratch, grad, want_grad):
    # Scratch is indexed by row rather than sliced: a row view costs two atomic refcount updates.
    dt = q.dtype.type
    one, two = dt(1.0), dt(2.0)
    fwd_odd, fwd_even, bwd = tables.forward_odd, tables.forward_even, tables.backward
    n_points = bwd.shape[0] + 1  # from the tables, so padded state rows are safe
    half_up = (n_points + 1) // 2
    half_down = n_points // 2
    n_odd = (n_act + 1) // 2
    n_even = n_act // 2
    for i in range(n_odd):
        scratch[_ODD_Q, i] = q[2 * i]
    for i in range(n_even):
        scratch[_EVEN_Q, i] = q[2 * i + 1]
    for j in range(half_up):
        odd = dt(0.0)
        for i in range(n_odd):
            odd += fwd_odd[j, i] * scratch[_ODD_Q, i]
        even = dt(0.0)
        for i in range(n_even):
            even += fwd_even[j, i] * scratch[_EVEN_Q, i]
        scratch[_XI, j] = even + odd
        if j < half_down:
            scratch[_XI, n_points - 1 - j] = even - odd
    # G and G' at every point; the slopes are overwritten by G'(xi).
    total = dt(0.0)
    for n in range(n_points):
        x = scratch[_XI, n]
        s = np.sqrt(one + x * x)
        r = one / (s * (one + s))
        a = x * x * s * r  # sqrt(1 + x^2) - 1 without cancellation
        total += a * a
        scratch[_XI, n] = two * x * x * x * r  # G'(x) = 2 x (1 - 1 / sqrt(1 + x^2))
    inv_n = one / dt(n_points)
    if want_grad:
        for j in range(half_down):
            scratch[_SUM, j] = scratch[_XI, j] + scratch[_XI, n_points - 1 - j]
            scratch[_DIFF, j] = scratch[_XI, j] - scratch[_XI, n_points - 1 - j]
        if half_up > half_down:  # the middle point of an odd grid
            scratch[_SUM, half_down] = scratch[_XI, half_down]
            scratch[_DIFF, half_down] = dt(0.0)
        for m in range(0, n_act, 2):  # odd mode numbers: antisymmetric about x = 1/2
            acc = dt(0.0)
            for j in range(half_up):
                acc += bwd[m, j] * scratch[_DIFF, j]
            grad[m] = acc * inv_n
        for m in range(1, n_act, 2):  # even mode numbers: symmetric
            acc = dt(0.0)
            for j in range(half_up):
                acc += bwd[m, j] * scratch[_SUM, j]
            grad[m] = acc * inv_n
    return total * inv_n


@njit(**INLINE)
def _kirchhoff_carrier(tables, q, n_act, scratch, grad, want_grad):
    dt = q.dtype.type
    beta2 = tables.beta2
    stretch = dt(0.0)
    for m in range(n_act):
        stretch += beta2[0, m] * q[m] * q[m]
    if want_grad:
        c = dt(0.5) * stretch
        for m in range(n_act):
            grad[m] = c * beta2[0, m] * q[m]
    return dt(0.125) * stretch * stretch


@njit(**INLINE)
def stretch_unit(z, half):
    """(A(z), A'(z)) of the stretch activation, without cancellation near z = 0; half is 0.5
    in the kernel's dtype."""
    one = half + half
    s = np.sqrt(one + z * z)
    excess = z * z / (one + s)  # s - 1
    return half * z * z * excess / (one + s), z * excess / s


@njit(**KERNEL)
def _gradnet(tables, q, n_act, scratch, grad, want_grad):
    # Forward as an axpy over the hidden units and backward as dots over them: both inner
    # loops run over H, long enough to vectorise well in float32.
    dt = q.dtype.type
    weights_t, vectors = tables.weights_t, tables.vectors
    n_hidden = tables.weights.shape[0]
    for j in range(n_hidden):
        scratch[_XI, j] = vectors[0, j]
    for m in range(n_act):
        c = q[m]
        for j in range(n_hidden):
            scratch[_XI, j] += weights_t[m, j] * c
    total = dt(0.0)
    if vectors[2, 0] != dt(0.0):
        for j in range(n_hidden):
            value, force = stretch_unit(scratch[_XI, j], dt(0.5))
            total += vectors[1, j] * value
            scratch[_XI, j] = vectors[1, j] * force  # e_j A'(z_j)
    else:
        for j in range(n_hidden):
            z = scratch[_XI, j]
            slope = dt(1.0) if z > dt(0.0) else dt(LEAK)
            total += vectors[1, j] * dt(0.5) * slope * z * z
            scratch[_XI, j] = vectors[1, j] * slope * z  # e_j LeakyReLU(z_j)
    if want_grad:
        for m in range(n_act):
            acc = dt(0.0)
            for j in range(n_hidden):
                acc += weights_t[m, j] * scratch[_XI, j]
            grad[m] = acc
    return total


@njit(**INLINE)
def _linear(tables, q, n_act, scratch, grad, want_grad):
    if want_grad:
        for m in range(n_act):
            grad[m] = q.dtype.type(0.0)
    return q.dtype.type(0.0)


IMPLEMENTATIONS = {LinearTables: _linear, KirchhoffCarrierTables: _kirchhoff_carrier,
                   ExactTables: _exact, GradNetTables: _gradnet}
# potential(tables, q, n_act, scratch, grad, want_grad): V(q) for the first n_act modes of q,
# shape (M,); if want_grad, also dV/dq into grad[:n_act]. scratch: a (SCRATCH_ROWS, >= M + 1)
# work array. Modes n_act..M-1 are treated as zero. Compiled for the tables' class.
potential = dispatch("potential", IMPLEMENTATIONS.__getitem__)
is_linear = class_test(LinearTables)
is_gradnet = class_test(GradNetTables)
