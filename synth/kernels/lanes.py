"""The SAV step for many voices at once, voices being the SIMD lanes (DESIGN.md section 4).

The scheme of `synth.kernels.sav` laid out for real time: every per-mode quantity is an
(M, C) array whose C columns are voice slots ("lanes"), and each loop runs over the modes
outside and the lanes inside, so the arithmetic of all voices vectorises with no horizontal
reductions. Transforms put the summed index outermost, so consecutive updates of one
accumulator are far apart and never wait on each other; the GradNet, whose matrix products
vectorise better over its hidden units, is evaluated one voice at a time. The kernels advance
lanes [0, n_lanes) and allocate nothing.

The exact potential carries its slopes xi = T q, and the GradNet its hidden layer
z = Wp q + b, from step to step, so V(q^n) for the drift control and V, grad V at q_half cost
two matrix products instead of three (`_exact_lanes`, `_gradnet_lanes`); the result equals the
offline kernel's up to rounding.

Arrays (float32 or float64; all lanes share the potential's tables):
    q, p           (M, C)   state
    coef           (COEF_ROWS, M, C): DECAY, STIFF, GAIN as in `linear.sav_coefficients`,
                   DRIVE = Phi(x_e) and PICKUP = Phi(x_o)
    ramp           (COEF_ROWS, M, C): per-sample increments of coef (DRIVE's row unused)
    per_lane       (LANE_ROWS, C): PSI, NU2, D_NU2 (per-sample increment of NU2), RESYNC
                   (exact, GradNet: steps until the carried slopes or hidden layer are
                   recomputed from q; <= 0 forces it)
    exc            (EXC_ROWS, C) float64: ELAPSED steps since onset (negative: not yet),
                   AMP, LEN (steps), SHAPE (`sav.PLUCK` or `sav.STRIKE`)
    grad           (M, C) work array; acc (ACC_ROWS, C) per-lane sums
    scratch        (SCRATCH_ROWS, W, C) and column (COLUMN_ROWS, W) for the potentials,
                   W >= max(M + 1, hidden units); hidden (C, H): the GradNet's z per lane
    out            (n, C): the pickup displacement w of every lane after every step
"""

import numpy as np
from numba import njit

from synth.kernels.potentials import (
    EXACT,
    GRADNET,
    KERNEL,
    KIRCHHOFF_CARRIER,
    LEAK,
    LINEAR,
    potential,
    stretch_unit,
)
from synth.kernels.sav import EPS, excitation_force

DECAY, STIFF, GAIN, DRIVE, PICKUP = 0, 1, 2, 3, 4
COEF_ROWS = 5
PSI, NU2, D_NU2, RESYNC = 0, 1, 2, 3
LANE_ROWS = 4
RESYNC_STEPS = 64  # GradNet: recompute the carried hidden layer from q this often
ELAPSED, AMP, LEN, SHAPE = 0, 1, 2, 3
EXC_ROWS = 4
ACC_ROWS = 10
SCRATCH_ROWS = 7
# acc rows
_V_NOW, _NORM1, _V_HALF, _CORR, _SCALE, _GP, _GU, _GB, _FORCE, _GPN = range(10)
# scratch rows of the exact potential; _CARRY persists from step to step
_XI, _ODD, _EVEN, _SUM, _DIFF, _U, _CARRY = range(7)
# rows of the per-voice work array `column`: 0..3 are the scratch of the per-string
# potentials (`synth.kernels.potentials`), then a state column and a gradient column
_COLUMN_U, _COLUMN_GRAD = 4, 5
COLUMN_ROWS = 6
PER_VOICE_LANES = 8  # up to this many lanes, the exact potential is evaluated voice by voice


@njit(**KERNEL)
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


@njit(**KERNEL)
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


@njit(**KERNEL)
def _gradient_lanes(n_lanes, tables, scratch, grad):
    """dV/dq into grad from G'(xi) / N in scratch[_XI] (the transposed transform)."""
    dt = grad.dtype.type
    fwd_odd, fwd_even = tables[0], tables[1]
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


@njit(**KERNEL)
def _exact_lanes(n_lanes, q, p, tables, scratch, countdown, acc, grad, half_k):
    """V(q^n) into acc[_V_NOW], V(q_half) into acc[_V_HALF] and dV/dq(q_half) into grad.

    The slopes are linear in q, so, as for the GradNet, with u = T p^n the slopes at q^n and
    at q_half are xi(q^{n-1/2}) + (k/2) u and that + (k/2) u: one forward transform instead
    of two. scratch[_CARRY] carries xi(q^{n-1/2}); every lane is recomputed from q when any
    lane's countdown reaches 0 (a new note, or every RESYNC_STEPS steps).
    """
    dt = q.dtype.type
    table = tables[2]
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
    _energy_lanes(n_lanes, n_points, scratch, acc, _V_NOW, False)
    for n in range(n_points):
        for v in range(n_lanes):
            scratch[_XI, n, v] = scratch[_CARRY, n, v]
    _energy_lanes(n_lanes, n_points, scratch, acc, _V_HALF, True)
    _gradient_lanes(n_lanes, tables, scratch, grad)


@njit(**KERNEL)
def _gradnet_lanes(n_lanes, q, p, tables, hidden, countdown, column, acc, grad, half_k):
    """V(q^n) into acc[_V_NOW], V(q_half) into acc[_V_HALF] and dV/dq(q_half) into grad, one
    voice at a time (the GradNet's products vectorise over its hidden units, not voices).

    z = Wp q + b is linear in q, so with u = Wp p^n, z(q^n) = z(q^{n-1/2}) + (k/2) u and
    z(q^{n+1/2}) = z(q^n) + (k/2) u: one product gives both, where evaluating V(q^n) afresh
    would cost a third. hidden[v] carries z(q^{n-1/2}); it is recomputed from q every
    RESYNC_STEPS steps, and whenever countdown[v] <= 0, so rounding cannot build up.
    """
    dt = q.dtype.type
    weights_t, vectors = tables[1], tables[2]
    n_modes, n_hidden = weights_t.shape[0], tables[0].shape[0]
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
                slope = dt(1.0) if z_now > dt(0.0) else dt(LEAK)
                value_now += vectors[1, j] * dt(0.5) * slope * z_now * z_now
                z_half = z_now + half_k * u[j]
                z[j] = z_half
                slope = dt(1.0) if z_half > dt(0.0) else dt(LEAK)
                value_half += vectors[1, j] * dt(0.5) * slope * z_half * z_half
                u[j] = vectors[1, j] * slope * z_half  # e LeakyReLU(z(q_half))
        acc[_V_NOW, v] = value_now
        acc[_V_HALF, v] = value_half
        for m in range(n_modes):
            total = dt(0.0)
            for j in range(n_hidden):
                total += weights_t[m, j] * u[j]
            grad_column[m] = total
        for m in range(n_modes):
            grad[m, v] = grad_column[m]


@njit(**KERNEL)
def _exact_per_voice(n_lanes, q, tables, column, acc, value_row, grad, want_grad):
    """As `_exact_lanes`, one voice at a time: cheaper when few lanes sound, because the
    lane loops would then be too short to vectorise."""
    n_modes = q.shape[0]
    q_column, grad_column = column[_COLUMN_U], column[_COLUMN_GRAD]
    for v in range(n_lanes):
        for m in range(n_modes):
            q_column[m] = q[m, v]
        acc[value_row, v] = potential(EXACT, q_column[:n_modes], n_modes, tables, column,
                                      grad_column, want_grad)
        if want_grad:
            for m in range(n_modes):
                grad[m, v] = grad_column[m]


@njit(**KERNEL, inline="always")
def _step(kind, n_lanes, q, p, decay, stiff, gain, drive, pickup, psi, nu2, countdown, acc, k,
          lambda0, tables, scratch, hidden, column, grad, out_row):
    """One step of every lane; acc[_FORCE] holds f(t_{n+1/2}) per lane; w goes to out_row."""
    dt = q.dtype.type
    zero, one, two = dt(0.0), dt(1.0), dt(2.0)
    half_k = dt(0.5) * k
    eps = dt(EPS)
    n_modes = q.shape[0]
    if kind == LINEAR:
        for v in range(n_lanes):
            out_row[v] = zero
        for m in range(n_modes):
            for v in range(n_lanes):
                pm = p[m, v]
                pn = decay[m, v] * pm - stiff[m, v] * (q[m, v] + half_k * pm) \
                    + gain[m, v] * drive[m, v] * acc[_FORCE, v]
                qn = q[m, v] + half_k * (pm + pn)
                q[m, v] = qn
                p[m, v] = pn
                out_row[v] += pickup[m, v] * qn
        return

    for v in range(n_lanes):
        acc[_NORM1, v] = zero
        acc[_V_NOW, v] = zero
        acc[_V_HALF, v] = zero
    if kind == KIRCHHOFF_CARRIER:
        beta2 = tables[0]
        # Stretch at q and at q_half in the same pass as the half drift.
        for m in range(n_modes):
            b2 = beta2[0, m]
            for v in range(n_lanes):
                qm, pm = q[m, v], p[m, v]
                acc[_V_NOW, v] += b2 * qm * qm
                acc[_NORM1, v] += abs(pm)
                qh = qm + half_k * pm
                q[m, v] = qh
                acc[_V_HALF, v] += b2 * qh * qh
        for v in range(n_lanes):
            stretch_now, stretch = acc[_V_NOW, v], acc[_V_HALF, v]
            acc[_V_NOW, v] = dt(0.125) * stretch_now * stretch_now
            acc[_V_HALF, v] = dt(0.125) * stretch * stretch
            acc[_SCALE, v] = dt(0.5) * stretch  # grad V = scale * beta^2 q
    elif kind == GRADNET:
        _gradnet_lanes(n_lanes, q, p, tables, hidden, countdown, column, acc, grad, half_k)
        for m in range(n_modes):
            for v in range(n_lanes):
                pm = p[m, v]
                acc[_NORM1, v] += abs(pm)
                q[m, v] += half_k * pm
        for v in range(n_lanes):
            acc[_SCALE, v] = one
    else:
        if n_lanes <= PER_VOICE_LANES:
            if lambda0 > zero:
                _exact_per_voice(n_lanes, q, tables, column, acc, _V_NOW, grad, False)
            for v in range(n_lanes):
                countdown[v] = zero  # the carried slopes go stale: recompute on return
        else:
            _exact_lanes(n_lanes, q, p, tables, scratch, countdown, acc, grad, half_k)
        for m in range(n_modes):
            for v in range(n_lanes):
                pm = p[m, v]
                acc[_NORM1, v] += abs(pm)
                q[m, v] += half_k * pm
        if n_lanes <= PER_VOICE_LANES:
            _exact_per_voice(n_lanes, q, tables, column, acc, _V_HALF, grad, True)
        for v in range(n_lanes):
            acc[_SCALE, v] = one

    quarter_k = dt(0.25) * k
    for v in range(n_lanes):
        acc[_SCALE, v] /= np.sqrt(two * acc[_V_HALF, v] + eps)
        if lambda0 > zero:
            drift = psi[v] - np.sqrt(two * acc[_V_NOW, v] + eps)
            acc[_CORR, v] = -lambda0 * drift / (acc[_NORM1, v] + eps)
        else:
            acc[_CORR, v] = zero
        acc[_GP, v] = zero
        acc[_GU, v] = zero
        acc[_GB, v] = zero
    # g = grad V / sqrt(2 V + eps) + drift control, and the dot products of the folded
    # Sherman-Morrison solve (see `sav.sav_step`).
    for m in range(n_modes):
        if kind == KIRCHHOFF_CARRIER:
            b2 = tables[0][0, m]
            for v in range(n_lanes):
                grad[m, v] = b2 * q[m, v]
        for v in range(n_lanes):
            pm = p[m, v]
            sign = (one if pm > zero else zero) - (one if pm < zero else zero)
            g = grad[m, v] * acc[_SCALE, v] + acc[_CORR, v] * sign
            grad[m, v] = g
            gm = gain[m, v]
            base = decay[m, v] * pm - stiff[m, v] * q[m, v] \
                + gm * drive[m, v] * acc[_FORCE, v]
            acc[_GP, v] += g * pm
            acc[_GU, v] += g * gm * g
            acc[_GB, v] += g * base
    for v in range(n_lanes):
        h = quarter_k * nu2[v]
        coupling = nu2[v] * psi[v] + h * acc[_GP, v]
        acc[_SCALE, v] = (coupling + h * acc[_GB, v]) \
            / (one + h * acc[_GU, v])  # now the shift of p'
        acc[_GPN, v] = zero
        out_row[v] = zero
    for m in range(n_modes):
        for v in range(n_lanes):
            gm = gain[m, v]
            g = grad[m, v]
            pn = decay[m, v] * p[m, v] - stiff[m, v] * q[m, v] \
                + gm * drive[m, v] * acc[_FORCE, v] \
                - acc[_SCALE, v] * gm * g
            p[m, v] = pn
            acc[_GPN, v] += g * pn
            qn = q[m, v] + half_k * pn
            q[m, v] = qn
            out_row[v] += pickup[m, v] * qn
    for v in range(n_lanes):
        psi[v] += half_k * (acc[_GP, v] + acc[_GPN, v])


@njit(**KERNEL, inline="always")
def _run_lanes(kind, n_steps, n_lanes, q, p, coef, ramp, ramping, per_lane, exc, k, lambda0,
               tables, scratch, hidden, column, grad, acc, out):
    dt = q.dtype.type
    n_modes = q.shape[0]
    # Row views are made once here, not per step (each view costs refcount updates).
    decay, stiff, gain, drive, pickup = coef[DECAY], coef[STIFF], coef[GAIN], coef[DRIVE], \
        coef[PICKUP]
    psi, nu2, d_nu2, countdown = per_lane[PSI], per_lane[NU2], per_lane[D_NU2], \
        per_lane[RESYNC]
    for n in range(n_steps):
        for v in range(n_lanes):
            acc[_FORCE, v] = dt(excitation_force(
                exc[ELAPSED, v], exc[AMP, v], exc[LEN, v],
                exc[SHAPE, v]))
            exc[ELAPSED, v] += 1.0
        _step(kind, n_lanes, q, p, decay, stiff, gain, drive, pickup, psi, nu2, countdown, acc,
              k, lambda0, tables, scratch, hidden, column, grad, out[n])
        if ramping:
            for m in range(n_modes):
                for v in range(n_lanes):
                    decay[m, v] += ramp[DECAY, m, v]
                    stiff[m, v] += ramp[STIFF, m, v]
                    gain[m, v] += ramp[GAIN, m, v]
                    pickup[m, v] += ramp[PICKUP, m, v]
            for v in range(n_lanes):
                nu2[v] += d_nu2[v]


@njit(**KERNEL)
def lanes_advance(kind, n_steps, n_lanes, q, p, coef, ramp, ramping, per_lane, exc, k, lambda0,
                  tables, scratch, hidden, column, grad, acc, out):
    """Advance lanes [0, n_lanes) by n_steps; write w to out[:n_steps, :n_lanes].

    kind: potential kind (LINEAR, KIRCHHOFF_CARRIER, EXACT or GRADNET); ramping: add `ramp`
    to the coefficients after every step (live parameter smoothing). See the module docstring
    for the arrays. Each kind gets its own specialised loop.
    """
    if kind == EXACT:
        _run_lanes(EXACT, n_steps, n_lanes, q, p, coef, ramp, ramping, per_lane, exc, k, lambda0,
                   tables, scratch, hidden, column, grad, acc, out)
    elif kind == GRADNET:
        _run_lanes(GRADNET, n_steps, n_lanes, q, p, coef, ramp, ramping, per_lane, exc, k,
                   lambda0, tables, scratch, hidden, column, grad, acc, out)
    elif kind == KIRCHHOFF_CARRIER:
        _run_lanes(KIRCHHOFF_CARRIER, n_steps, n_lanes, q, p, coef, ramp, ramping, per_lane, exc,
                   k, lambda0, tables, scratch, hidden, column, grad, acc, out)
    else:
        _run_lanes(LINEAR, n_steps, n_lanes, q, p, coef, ramp, ramping, per_lane, exc, k, lambda0,
                   tables, scratch, hidden, column, grad, acc, out)
