"""The potentials of the SAV lanes (`synth.kernels.lanes`): for every lane, the half drift
q -> q_half and V(q^n), V(q_half) and grad V(q_half), as one step of the lanes needs them.

`half_drift(tables, ...)` is compiled for the potential's tables class (as
`synth.kernels.potentials.potential` is), so a lane step carries only its own potential:

- linear: nothing to evaluate (`lanes` takes a plain linear step instead);
- Kirchhoff-Carrier: the stretch sum beta^2 q^2 at q and q_half in the same pass as the drift;
- exact: the slopes xi = T q carried from step to step (`_exact_lanes`): the slopes are linear
  in q, so with u = T p^n the slopes at q^n and q_half are xi(q^{n-1/2}) + (k/2) u and that
  + (k/2) u, one forward transform instead of two. Up to PER_VOICE_LANES lanes, voice by
  voice instead (`_exact_per_voice`): the lane loops would be too short to vectorise.
- GradNet: the hidden layer z = Wp q + b carried the same way, one voice at a time (its
  products vectorise over hidden units, not voices).

The carried slopes and hidden layers are recomputed from q every RESYNC_STEPS steps, and when
a lane's countdown is <= 0 (a new note), so rounding cannot build up; the result equals the
per-string kernel's up to rounding.

Arrays: q, p (M, C); acc (ACC_ROWS, C) per-lane sums (rows V_NOW, NORM1, V_HALF are written
here); grad (M, C); scratch (SCRATCH_ROWS, W, C) and column (COLUMN_ROWS, W) work arrays,
W >= max(M + 1, hidden units); hidden (C, H) the GradNet's carried z per lane; countdown (C,)
steps until the carried quantities are recomputed.
"""

import numpy as np
from numba import njit

from synth.kernels.dispatch import dispatch
from synth.kernels.options import INLINE, INTERNAL
from synth.kernels.potentials import (
    ExactTables,
    GradNetTables,
    KirchhoffCarrierTables,
    LinearTables,
    potential,
    stretch_unit,
)

RESYNC_STEPS = 64  # recompute the carried slopes or hidden layer from q this often
PER_VOICE_LANES = 8  # up to this many lanes, the exact potential is evaluated voice by voice
V_NOW, NORM1, V_HALF = 0, 1, 2  # the acc rows written here (the lanes use the others)
SCRATCH_ROWS = 7
_XI, _ODD, _EVEN, _SUM, _DIFF, _U, _CARRY = range(7)  # scratch rows; _CARRY persists
# rows of the per-voice work array `column`: 0..3 are the scratch of the per-string potentials
# (`synth.kernels.potentials`), then a state column and a gradient column
_COLUMN_U, _COLUMN_GRAD = 4, 5
COLUMN_ROWS = 6


@njit(**INLINE)
def _drift(n_lanes, q, p, acc, half_k):
    """|p|_1 into acc[NORM1] and q -> q + (k/2) p."""
    for v in range(n_lanes):
        acc[NORM1, v] = q.dtype.type(0.0)
    for m in range(q.shape[0]):
        for v in range(n_lanes):
            pm = p[m, v]
            acc[NORM1, v] += abs(pm)
            q[m, v] += half_k * pm


# ------------------------------------------------------------------ Kirchhoff-Carrier
@njit(**INTERNAL)
def _kirchhoff_carrier(tables, n_lanes, q, p, scratch, hidden, column, countdown, acc, grad,
                       half_k, lambda0):
    dt = q.dtype.type
    beta2 = tables.beta2
    for v in range(n_lanes):
        acc[V_NOW, v] = dt(0.0)
        acc[V_HALF, v] = dt(0.0)
        acc[NORM1, v] = dt(0.0)
    # the stretch at q and at q_half in the same pass as the half drift
    for m in range(q.shape[0]):
        b2 = beta2[0, m]
        for v in range(n_lanes):
            qm, pm = q[m, v], p[m, v]
            acc[V_NOW, v] += b2 * qm * qm
            acc[NORM1, v] += abs(pm)
            qh = qm + half_k * pm
            q[m, v] = qh
            acc[V_HALF, v] += b2 * qh * qh
    for m in range(q.shape[0]):
        b2 = beta2[0, m]
        for v in range(n_lanes):
            grad[m, v] = dt(0.5) * acc[V_HALF, v] * b2 * q[m, v]  # grad V = stretch/2 beta^2 q
    for v in range(n_lanes):
        stretch_now, stretch = acc[V_NOW, v], acc[V_HALF, v]
        acc[V_NOW, v] = dt(0.125) * stretch_now * stretch_now
        acc[V_HALF, v] = dt(0.125) * stretch * stretch


# ------------------------------------------------------------------ exact
@njit(**INTERNAL)
def _slopes_lanes(n_lanes, x, table, scratch, target):
    """The slopes at the N = M + 1 midpoints of the string shapes x (M, C), written to
    scratch[target] (see `potentials._exact`; mode parity halves the work)."""
    dt = x.dtype.type
    n_modes = table.shape[0]
    n_points = n_modes + 1
    half_up = (n_points + 1) // 2
    half_down = n_points // 2
    for j in range(half_up):
        for v in range(n_lanes):
            scratch[_ODD, j, v] = dt(0.0)
            scratch[_EVEN, j, v] = dt(0.0)
    for m in range(n_modes):
        row = _ODD if m % 2 == 0 else _EVEN
        for j in range(half_up):
            c = table[m, j]
            for v in range(n_lanes):
                scratch[row, j, v] += c * x[m, v]
    for j in range(half_up):
        for v in range(n_lanes):
            odd, even = scratch[_ODD, j, v], scratch[_EVEN, j, v]
            scratch[target, j, v] = even + odd
            if j < half_down:
                scratch[target, n_points - 1 - j, v] = even - odd


@njit(**INTERNAL)
def _energy_lanes(n_lanes, n_points, scratch, acc, value_row, derivative):
    """V = (1/N) sum G(xi) of the slopes in scratch[_XI] into acc[value_row]; with
    derivative, scratch[_XI] is overwritten by G'(xi) / N."""
    dt = scratch.dtype.type
    one, two = dt(1.0), dt(2.0)
    inv_n = one / dt(n_points)
    for v in range(n_lanes):
        acc[value_row, v] = dt(0.0)
    for n in range(n_points):
        for v in range(n_lanes):
            x = scratch[_XI, n, v]
            s = np.sqrt(one + x * x)
            r = one / (s * (one + s))
            a = x * x * s * r  # sqrt(1 + x^2) - 1 without cancellation
            acc[value_row, v] += a * a * inv_n
            if derivative:
                scratch[_XI, n, v] = two * x * x * x * r * inv_n


@njit(**INLINE)
def _gradient_lanes(n_lanes, tables, scratch, grad):
    """dV/dq into grad from G'(xi) / N in scratch[_XI] (the transposed transform)."""
    dt = grad.dtype.type
    fwd_odd, fwd_even = tables.forward_odd, tables.forward_even
    n_modes = grad.shape[0]
    n_points = n_modes + 1
    half_up = (n_points + 1) // 2
    half_down = n_points // 2
    for j in range(half_up):
        for v in range(n_lanes):
            if j < half_down:
                a, b = scratch[_XI, j, v], scratch[_XI, n_points - 1 - j, v]
                scratch[_SUM, j, v] = a + b
                scratch[_DIFF, j, v] = a - b
            else:  # middle point of an odd grid
                scratch[_SUM, j, v] = scratch[_XI, j, v]
                scratch[_DIFF, j, v] = dt(0.0)
    for m in range(n_modes):
        for v in range(n_lanes):
            grad[m, v] = dt(0.0)
    for j in range(half_up):
        for i in range((n_modes + 1) // 2):  # odd mode numbers use the antisymmetric part
            c = fwd_odd[j, i]
            for v in range(n_lanes):
                grad[2 * i, v] += c * scratch[_DIFF, j, v]
        for i in range(n_modes // 2):
            c = fwd_even[j, i]
            for v in range(n_lanes):
                grad[2 * i + 1, v] += c * scratch[_SUM, j, v]


@njit(**INLINE)
def _exact_lanes(tables, n_lanes, q, p, scratch, countdown, acc, grad, half_k):
    """V(q^n), the half drift, V(q_half) and grad V(q_half) with the slopes carried in
    scratch[_CARRY] (xi(q^{n-1/2})); every lane is recomputed from q when any lane's countdown
    reaches 0."""
    dt = q.dtype.type
    table = tables.backward
    n_points = table.shape[0] + 1
    resync = False
    for v in range(n_lanes):
        if countdown[v] <= dt(0.0):
            resync = True
    _slopes_lanes(n_lanes, p, table, scratch, _U)
    if resync:
        _slopes_lanes(n_lanes, q, table, scratch, _CARRY)
        for n in range(n_points):
            for v in range(n_lanes):
                scratch[_CARRY, n, v] -= half_k * scratch[_U, n, v]
        for v in range(n_lanes):
            countdown[v] = dt(RESYNC_STEPS)
    for v in range(n_lanes):
        countdown[v] -= dt(1.0)
    for n in range(n_points):
        for v in range(n_lanes):
            now = scratch[_CARRY, n, v] + half_k * scratch[_U, n, v]
            scratch[_XI, n, v] = now
            scratch[_CARRY, n, v] = now + half_k * scratch[_U, n, v]
    _energy_lanes(n_lanes, n_points, scratch, acc, V_NOW, False)
    for n in range(n_points):
        for v in range(n_lanes):
            scratch[_XI, n, v] = scratch[_CARRY, n, v]
    _energy_lanes(n_lanes, n_points, scratch, acc, V_HALF, True)
    _gradient_lanes(n_lanes, tables, scratch, grad)
    _drift(n_lanes, q, p, acc, half_k)


@njit(**INTERNAL)
def lane_value(tables, q, v, column):
    """V(q[:, v]): the potential of lane v's state (for a state set from outside)."""
    n_modes = q.shape[0]
    q_column = column[_COLUMN_U]
    for m in range(n_modes):
        q_column[m] = q[m, v]
    return potential(tables, q_column[:n_modes], n_modes, column, column[_COLUMN_GRAD], False)


@njit(**INTERNAL)
def _exact_per_voice(tables, n_lanes, q, column, acc, value_row, grad, want_grad):
    """V (and grad V) of every lane's q, one voice at a time through the per-string kernel."""
    n_modes = q.shape[0]
    q_column, grad_column = column[_COLUMN_U], column[_COLUMN_GRAD]
    for v in range(n_lanes):
        for m in range(n_modes):
            q_column[m] = q[m, v]
        acc[value_row, v] = potential(tables, q_column[:n_modes], n_modes, column,
                                      grad_column, want_grad)
        if want_grad:
            for m in range(n_modes):
                grad[m, v] = grad_column[m]


@njit(**INTERNAL)
def _exact(tables, n_lanes, q, p, scratch, hidden, column, countdown, acc, grad, half_k,
           lambda0):
    if n_lanes > PER_VOICE_LANES:
        _exact_lanes(tables, n_lanes, q, p, scratch, countdown, acc, grad, half_k)
        return
    if lambda0 > q.dtype.type(0.0):
        _exact_per_voice(tables, n_lanes, q, column, acc, V_NOW, grad, False)
    for v in range(n_lanes):
        countdown[v] = q.dtype.type(0.0)  # the carried slopes go stale: recompute on return
    _drift(n_lanes, q, p, acc, half_k)
    _exact_per_voice(tables, n_lanes, q, column, acc, V_HALF, grad, True)


# ------------------------------------------------------------------ GradNet
@njit(**INTERNAL)
def _gradnet(tables, n_lanes, q, p, scratch, hidden, column, countdown, acc, grad, half_k,
             lambda0):
    """z(q^n) = z(q^{n-1/2}) + (k/2) u and z(q^{n+1/2}) = z(q^n) + (k/2) u with u = Wp p^n:
    one product gives both, where evaluating V(q^n) afresh would cost a third. hidden[v]
    carries z(q^{n-1/2})."""
    dt = q.dtype.type
    weights_t, vectors = tables.weights_t, tables.vectors
    n_modes, n_hidden = weights_t.shape[0], tables.weights.shape[0]
    stretch = vectors[2, 0] != dt(0.0)
    u, grad_column = column[_COLUMN_U], column[_COLUMN_GRAD]
    for v in range(n_lanes):
        z = hidden[v]
        for j in range(n_hidden):
            u[j] = dt(0.0)
        for m in range(n_modes):
            c = p[m, v]
            for j in range(n_hidden):
                u[j] += weights_t[m, j] * c
        if countdown[v] <= dt(0.0):  # z(q^n) from q^n itself
            countdown[v] = dt(RESYNC_STEPS)
            for j in range(n_hidden):
                z[j] = vectors[0, j] - half_k * u[j]
            for m in range(n_modes):
                c = q[m, v]
                for j in range(n_hidden):
                    z[j] += weights_t[m, j] * c
        countdown[v] -= dt(1.0)
        value_now = dt(0.0)
        value_half = dt(0.0)
        if stretch:
            for j in range(n_hidden):
                z_now = z[j] + half_k * u[j]
                value_now += vectors[1, j] * stretch_unit(z_now, dt(0.5))[0]
                z_half = z_now + half_k * u[j]
                z[j] = z_half
                value, force = stretch_unit(z_half, dt(0.5))
                value_half += vectors[1, j] * value
                u[j] = vectors[1, j] * force  # e A'(z(q_half))
        else:
            for j in range(n_hidden):
                z_now = z[j] + half_k * u[j]
                slope = dt(1.0) if z_now > dt(0.0) else dt(0.01)
                value_now += vectors[1, j] * dt(0.5) * slope * z_now * z_now
                z_half = z_now + half_k * u[j]
                z[j] = z_half
                slope = dt(1.0) if z_half > dt(0.0) else dt(0.01)
                value_half += vectors[1, j] * dt(0.5) * slope * z_half * z_half
                u[j] = vectors[1, j] * slope * z_half  # e LeakyReLU(z(q_half))
        acc[V_NOW, v] = value_now
        acc[V_HALF, v] = value_half
        for m in range(n_modes):
            total = dt(0.0)
            for j in range(n_hidden):
                total += weights_t[m, j] * u[j]
            grad_column[m] = total
        for m in range(n_modes):
            grad[m, v] = grad_column[m]
    _drift(n_lanes, q, p, acc, half_k)


# ------------------------------------------------------------------ linear
@njit(**INTERNAL)
def _linear(tables, n_lanes, q, p, scratch, hidden, column, countdown, acc, grad, half_k,
            lambda0):
    """V = 0. The lanes take a plain linear step instead (`lanes._linear_step`), but the
    call of half_drift they skip is still typed for the linear tables, so it must exist."""
    _drift(n_lanes, q, p, acc, half_k)
    for m in range(q.shape[0]):
        for v in range(n_lanes):
            grad[m, v] = q.dtype.type(0.0)
    for v in range(n_lanes):
        acc[V_NOW, v] = q.dtype.type(0.0)
        acc[V_HALF, v] = q.dtype.type(0.0)


# ------------------------------------------------------------------ dispatch
_IMPLEMENTATIONS = {ExactTables: _exact, GradNetTables: _gradnet,
                    KirchhoffCarrierTables: _kirchhoff_carrier, LinearTables: _linear}
# half_drift(tables, n_lanes, q, p, scratch, hidden, column, countdown, acc, grad, half_k,
#            lambda0): for lanes [0, n_lanes), V(q^n) into acc[V_NOW] (the drift control
# needs it when lambda0 > 0), |p|_1 into acc[NORM1], q -> q_half = q + (k/2) p, V(q_half)
# into acc[V_HALF] and grad V(q_half) into grad. Compiled for the tables' class.
half_drift = dispatch("half_drift", _IMPLEMENTATIONS.__getitem__)
