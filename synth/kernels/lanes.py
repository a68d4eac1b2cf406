"""The SAV step for many voices at once, voices being the SIMD lanes.

The scheme of `synth.kernels.sav` laid out for real time: every per-mode quantity is an
(M, C) array whose C columns are voice slots ("lanes"), and each loop runs over the modes
outside and the lanes inside, so the arithmetic of all voices vectorises with no horizontal
reductions. The potential's part of a step (the half drift, V and grad V) is in
`synth.kernels.lane_potentials`; the kernels here are compiled for the potential's tables, so
each potential gets its own loop. They advance lanes [0, n_lanes) and allocate nothing.

Arrays (float32 or float64; all lanes share the potential's tables):
    q, p           (M, C)   state
    coef           (COEF_ROWS, M, C): DECAY, STIFF, GAIN as in `linear.sav_coefficients`,
                   DRIVE = Phi(x_e), PICKUP = the readout of q (`formulas.readout`) and
                   TENSION = that of the nonlinear modal force (`formulas.tension_readout`)
    ramp           (COEF_ROWS, M, C): per-sample increments of coef (DRIVE's row unused)
    per_lane       (LANE_ROWS, C): PSI, NU2, D_NU2 (per-sample increment of NU2), RESYNC
                   (steps until the potential's carried quantities are recomputed from q;
                   <= 0 forces it)
    exc            (EXC_ROWS, C) float64: the force pulse (`formulas.ELAPSED` ...)
    grad           (M, C) work array; acc (ACC_ROWS, C) per-lane sums
    scratch, column, hidden: the potential's work arrays (`lane_potentials`)
    out            (n, C): what every lane is heard as after every step: sum_m PICKUP q_m
                   + TENSION f_m, f_m = -nu^2 dV/dq_m as the SAV step applies it
"""

import numpy as np
from numba import njit

from synth.kernels.formulas import AMP, ELAPSED, LEN, SHAPE, excitation_force
from synth.kernels.lane_potentials import NORM1, V_HALF, V_NOW, half_drift
from synth.kernels.options import INLINE
from synth.kernels.potentials import is_linear
from synth.kernels.sav import EPS

DECAY, STIFF, GAIN, DRIVE, PICKUP, TENSION = 0, 1, 2, 3, 4, 5
COEF_ROWS = 6
PSI, NU2, D_NU2, RESYNC = 0, 1, 2, 3
LANE_ROWS = 4
ACC_ROWS = 10
# acc rows beyond the potential's (V_NOW, NORM1, V_HALF)
_CORR, _SCALE, _GP, _GU, _GB, _FORCE, _GPN = range(3, 10)


@njit(**INLINE)
def _linear_step(n_lanes, q, p, decay, stiff, gain, drive, pickup, acc, half_k, out_row):
    """One step of the string without a potential (the plain linear update)."""
    for v in range(n_lanes):
        out_row[v] = q.dtype.type(0.0)
    for m in range(q.shape[0]):
        for v in range(n_lanes):
            pm = p[m, v]
            pn = decay[m, v] * pm - stiff[m, v] * (q[m, v] + half_k * pm) \
                + gain[m, v] * drive[m, v] * acc[_FORCE, v]
            qn = q[m, v] + half_k * (pm + pn)
            q[m, v] = qn
            p[m, v] = pn
            out_row[v] += pickup[m, v] * qn


@njit(**INLINE)
def _step(n_lanes, q, p, decay, stiff, gain, drive, pickup, tension, psi, nu2, countdown, acc,
          k, lambda0, tables, scratch, hidden, column, grad, out_row):
    """One step of every lane; acc[_FORCE] holds f(t_{n+1/2}) per lane; what each lane is
    heard as (the module docstring's `out`) goes to out_row."""
    dt = q.dtype.type
    zero, one, two = dt(0.0), dt(1.0), dt(2.0)
    half_k = dt(0.5) * k
    eps = dt(EPS)
    if is_linear(tables):
        _linear_step(n_lanes, q, p, decay, stiff, gain, drive, pickup, acc, half_k, out_row)
        return
    half_drift(tables, n_lanes, q, p, scratch, hidden, column, countdown, acc, grad, half_k,
               lambda0)  # q now holds q_half
    quarter_k = dt(0.25) * k
    for v in range(n_lanes):
        acc[_SCALE, v] = one / np.sqrt(two * acc[V_HALF, v] + eps)
        if lambda0 > zero:
            drift = psi[v] - np.sqrt(two * acc[V_NOW, v] + eps)
            acc[_CORR, v] = -lambda0 * drift / (acc[NORM1, v] + eps)
        else:
            acc[_CORR, v] = zero
        acc[_GP, v] = zero
        acc[_GU, v] = zero
        acc[_GB, v] = zero
    # g = grad V / sqrt(2 V + eps) + drift control, and the dot products of the folded
    # Sherman-Morrison solve (see `sav.sav_step`).
    for m in range(q.shape[0]):
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
    for m in range(q.shape[0]):
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
            out_row[v] += pickup[m, v] * qn - tension[m, v] * acc[_SCALE, v] * g
    for v in range(n_lanes):
        psi[v] += half_k * (acc[_GP, v] + acc[_GPN, v])


@njit(**INLINE)
def lanes_advance(n_steps, n_lanes, q, p, coef, ramp, ramping, per_lane, exc, k, lambda0,
                  tables, scratch, hidden, column, grad, acc, out):
    """Advance lanes [0, n_lanes) by n_steps; write what each is heard as (a point's
    displacement or the bridge force) to out[:n_steps, :n_lanes].

    ramping: add `ramp` to the coefficients after every step (live parameter smoothing). See
    the module docstring for the arrays.
    """
    dt = q.dtype.type
    n_modes = q.shape[0]
    # Row views are made once here, not per step (each view costs refcount updates).
    decay, stiff, gain, drive, pickup, tension = coef[DECAY], coef[STIFF], coef[GAIN], \
        coef[DRIVE], coef[PICKUP], coef[TENSION]
    psi, nu2, d_nu2, countdown = per_lane[PSI], per_lane[NU2], per_lane[D_NU2], \
        per_lane[RESYNC]
    for n in range(n_steps):
        for v in range(n_lanes):
            acc[_FORCE, v] = dt(excitation_force(exc[ELAPSED, v], exc[AMP, v], exc[LEN, v],
                                                 exc[SHAPE, v]))
            exc[ELAPSED, v] += 1.0
        _step(n_lanes, q, p, decay, stiff, gain, drive, pickup, tension, psi, nu2, countdown,
              acc, k, lambda0, tables, scratch, hidden, column, grad, out[n])
        if ramping:
            for m in range(n_modes):
                for v in range(n_lanes):
                    decay[m, v] += ramp[DECAY, m, v]
                    stiff[m, v] += ramp[STIFF, m, v]
                    gain[m, v] += ramp[GAIN, m, v]
                    pickup[m, v] += ramp[PICKUP, m, v]
                    tension[m, v] += ramp[TENSION, m, v]
            for v in range(n_lanes):
                nu2[v] += d_nu2[v]
