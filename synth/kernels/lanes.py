"""The SAV step for many voices at once, voices being the SIMD lanes.

The scheme of `synth.kernels.sav` laid out for real time: every per-mode quantity is an
(M, C) array whose C columns are voice slots ("lanes"), and each loop runs over the modes
outside and the lanes inside, so the arithmetic of all voices vectorises with no horizontal
reductions. The potential's part of a step (the half drift, V and grad V) is in
`synth.kernels.lane_potentials`; the kernels here are compiled for the potential's tables, so
each potential gets its own loop. They advance lanes [0, n_lanes) and allocate nothing.

Arrays (float32 or float64; all lanes share the potential's tables):
    q, p           (M, C)   state
    anti_q, anti_p (M, C)   the state of a key's unisons' cancelling motion (below)
    coef           (COEF_ROWS, M, C): DECAY, STIFF, GAIN as in `linear.sav_coefficients`,
                   DRIVE = Phi(x_e), PICKUP = the readout of q (`formulas.readout`) and
                   TENSION = that of the nonlinear modal force (`formulas.tension_readout`);
                   ANTI_DECAY, ANTI_STIFF those of the cancelling motion, COUPLING and
                   ANTI_COUPLING = GAIN c and its GAIN c (c the unisons' coupling)
    ramp           (COEF_ROWS, M, C): per-sample increments of coef (DRIVE's row unused)
    per_lane       (LANE_ROWS, C): PSI, NU2, D_NU2 (per-sample increment of NU2), RESYNC
                   (steps until the potential's carried quantities are recomputed from q;
                   <= 0 forces it)
    exc            (EXC_ROWS, C) float64: the force pulse, the hammer and a held pluck's
                   scrape (`formulas.ELAPSED` ...); a lane's hammer shares DRIVE as its
                   contact's shape Phi_h
    grad           (M, C) work array; acc (ACC_ROWS, C) per-lane sums
    scratch, column, hidden: the potential's work arrays (`lane_potentials`)
    out            (n, C): what every lane is heard as after every step: sum_m PICKUP q_m
                   + TENSION f_m, f_m = -nu^2 dV/dq_m as the SAV step applies it

A lane plays a key's unisons moving in phase (`synth.physics.losses`); where they are
mistuned (COUPLING of the first mode nonzero in some lane), mode m of the lane and the linear
mode m of their cancelling motion (anti_q, anti_p; silent at the bridge) are coupled by the
force -c x (x the other's displacement at the half step, c = 2 epsilon omega_s^2), stepped
alike: drift half a step, kick, drift. The coupling derives from the potential c q x, so for
the linear parts the step stays the symplectic position Verlet, stable while
k^2 omega_s^2 (1 + 2 epsilon) < 4 (`keyboards.MAX_MISTUNING` keeps that margin).

While any lane's hammer is in play (`formulas.H_LEFT` > 0), the lanes take the struck step
(`_struck_step`): the hammer (mass ratio r, position y, velocity v) and the felt's potential
W(c), c = y - Phi_h . q (`synth.physics.hammer`), get an auxiliary variable psi_h of their
own, and the step

    (p' - p)/k = ... - nu^2 g psi_half + s Phi_h psi_h_half,  r (v' - v)/k = -s psi_h_half,
    s = W'(c_half) / sqrt(2 W(c_half) + eps),
    psi_h_half = psi_h + (k/4) s ((v + v') - Phi_h . (p + p'))

is diagonal plus rank two in (p', v'), solved in closed form. The discrete energy
E + 1/2 r v^2 + 1/2 psi_h^2 (E the string's, `synth.kernels.sav`) never grows, whatever s is.
psi_h has no drift control (a contact lasts a few ms; a correction dividing by the
compression rate, which passes through zero, would blow s up); out of contact it is set
back to its rest value sqrt(eps), which only ever takes energy away.
"""

import math

import numpy as np
from numba import njit

from synth.kernels.formulas import (
    AMP,
    ELAPSED,
    H_EXPONENT,
    H_FELT,
    H_LEFT,
    H_MASS,
    H_PSI,
    H_V,
    H_Y,
    LEN,
    SCRAPE,
    SEED,
    SHAPE,
    excitation_force,
    felt_force,
    felt_potential,
)
from synth.kernels.lane_potentials import NORM1, V_HALF, V_NOW, half_drift
from synth.kernels.options import INLINE, KERNEL
from synth.kernels.potentials import is_linear
from synth.kernels.sav import EPS

REST_PSI = math.sqrt(EPS)  # psi_h of an uncompressed felt

DECAY, STIFF, GAIN, DRIVE, PICKUP, TENSION = 0, 1, 2, 3, 4, 5
ANTI_DECAY, ANTI_STIFF, COUPLING, ANTI_COUPLING = 6, 7, 8, 9
COEF_ROWS = 10
RAMPED = (DECAY, STIFF, GAIN, PICKUP, TENSION, ANTI_DECAY, ANTI_STIFF, COUPLING, ANTI_COUPLING)
PSI, NU2, D_NU2, RESYNC = 0, 1, 2, 3
LANE_ROWS = 4
ACC_ROWS = 18
# acc rows beyond the potential's (V_NOW, NORM1, V_HALF); from _HQ on, the struck step's:
# Phi_h . q, Phi_h . p, s, the hammer's shift of p' (s psi_h_half), k / r, and the sums
# g.G Phi_h, Phi_h.G Phi_h, Phi_h . base and Phi_h . p' (G = diag(GAIN))
_CORR, _SCALE, _GP, _GU, _GB, _FORCE, _GPN = range(3, 10)
_HQ, _HP, _HS, _HB, _HK, _GPHI, _PHIGPHI, _PHIB = range(10, 18)


# The two helpers of the cancelling motion are not inlined at Numba's IR level (inline=
# "always" lost their writes to anti_q, anti_p inside the steps' loops); LLVM inlines them.
@njit(**KERNEL)
def _anti_drift(n_lanes, anti, half_k):
    """Drift the unisons' cancelling motion of lanes [0, n_lanes) half a step: anti_q then
    holds its half step."""
    anti_q, anti_p = anti[0], anti[1]
    for m in range(anti_q.shape[0]):
        for v in range(n_lanes):
            anti_q[m, v] += half_k * anti_p[m, v]


@njit(**KERNEL)
def _anti_kick(anti, m, v, q_half, half_k):
    """Kick mode m of lane v's cancelling motion (anti_q at its half step) by its own
    stiffness and the coupling to the lane's q_half, then drift it to the step's end;
    return the coupling's pull on the lane's mode, COUPLING x_half."""
    x_half = anti[0][m, v]
    pn = anti[2][m, v] * anti[1][m, v] - anti[3][m, v] * x_half - anti[5][m, v] * q_half
    anti[1][m, v] = pn
    anti[0][m, v] = x_half + half_k * pn
    return anti[4][m, v] * x_half


@njit(**INLINE)
def _linear_step(n_lanes, q, p, decay, stiff, gain, drive, pickup, anti, coupled, acc, half_k,
                 out_row):
    """One step of the string without a potential (the plain linear update)."""
    for v in range(n_lanes):
        out_row[v] = q.dtype.type(0.0)
    if coupled:
        _anti_drift(n_lanes, anti, half_k)
    for m in range(q.shape[0]):
        for v in range(n_lanes):
            pm = p[m, v]
            q_half = q[m, v] + half_k * pm
            pn = decay[m, v] * pm - stiff[m, v] * q_half \
                + gain[m, v] * drive[m, v] * acc[_FORCE, v]
            if coupled:
                pn -= _anti_kick(anti, m, v, q_half, half_k)
            qn = q_half + half_k * pn
            q[m, v] = qn
            p[m, v] = pn
            out_row[v] += pickup[m, v] * qn


@njit(**INLINE)
def _step(n_lanes, q, p, decay, stiff, gain, drive, pickup, tension, anti, coupled, psi, nu2,
          countdown, acc, k, lambda0, tables, scratch, hidden, column, grad, out_row):
    """One step of every lane; acc[_FORCE] holds f(t_{n+1/2}) per lane; what each lane is
    heard as (the module docstring's `out`) goes to out_row."""
    dt = q.dtype.type
    zero, one, two = dt(0.0), dt(1.0), dt(2.0)
    half_k = dt(0.5) * k
    eps = dt(EPS)
    if is_linear(tables):
        _linear_step(n_lanes, q, p, decay, stiff, gain, drive, pickup, anti, coupled, acc,
                     half_k, out_row)
        return
    half_drift(tables, n_lanes, q, p, scratch, hidden, column, countdown, acc, grad, half_k,
               lambda0)  # q now holds q_half
    anti_q, couple = anti[0], anti[4]
    if coupled:
        _anti_drift(n_lanes, anti, half_k)
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
            if coupled:
                base -= couple[m, v] * anti_q[m, v]
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
            q_half = q[m, v]
            pn = decay[m, v] * p[m, v] - stiff[m, v] * q_half \
                + gm * drive[m, v] * acc[_FORCE, v] - acc[_SCALE, v] * gm * g
            if coupled:
                pn -= _anti_kick(anti, m, v, q_half, half_k)
            p[m, v] = pn
            acc[_GPN, v] += g * pn
            qn = q_half + half_k * pn
            q[m, v] = qn
            out_row[v] += pickup[m, v] * qn - tension[m, v] * acc[_SCALE, v] * g
    for v in range(n_lanes):
        psi[v] += half_k * (acc[_GP, v] + acc[_GPN, v])


@njit(**INLINE)
def _hammer_scale(exc, v, hq, hp, half_k):
    """s of lane v's hammer: W'(c_half) / sqrt(2 W(c_half) + eps); hq, hp: Phi_h . q and
    Phi_h . p at the step's start (float64 arithmetic)."""
    felt, exponent = exc[H_FELT, v], exc[H_EXPONENT, v]
    c_half = exc[H_Y, v] - hq + half_k * (exc[H_V, v] - hp)
    return felt_force(c_half, felt, exponent) \
        / math.sqrt(2.0 * felt_potential(c_half, felt, exponent) + EPS)


@njit(**INLINE)
def _struck_step(n_lanes, q, p, decay, stiff, gain, drive, pickup, tension, anti, coupled, psi,
                 nu2, countdown, acc, exc, k, lambda0, tables, scratch, hidden, column, grad,
                 out_row):
    """One step of every lane, some struck by their hammers (the module docstring); a lane
    whose hammer is gone (exc[H_LEFT] <= 0) has s = 0 and steps as `_step` does."""
    dt = q.dtype.type
    zero, one, two = dt(0.0), dt(1.0), dt(2.0)
    half_k, quarter_k = dt(0.5) * k, dt(0.25) * k
    eps = dt(EPS)
    n_modes = q.shape[0]
    for v in range(n_lanes):
        acc[_HQ, v] = zero
        acc[_HP, v] = zero
    for m in range(n_modes):
        for v in range(n_lanes):
            acc[_HQ, v] += drive[m, v] * q[m, v]
            acc[_HP, v] += drive[m, v] * p[m, v]
    half_drift(tables, n_lanes, q, p, scratch, hidden, column, countdown, acc, grad, half_k,
               lambda0)  # q now holds q_half; a linear string's grad V is zero
    anti_q, couple = anti[0], anti[4]
    if coupled:
        _anti_drift(n_lanes, anti, half_k)
    for v in range(n_lanes):
        acc[_SCALE, v] = one / np.sqrt(two * acc[V_HALF, v] + eps)
        if lambda0 > zero and not is_linear(tables):
            drift = psi[v] - np.sqrt(two * acc[V_NOW, v] + eps)
            acc[_CORR, v] = -lambda0 * drift / (acc[NORM1, v] + eps)
        else:
            acc[_CORR, v] = zero
        if exc[H_LEFT, v] > 0.0:
            acc[_HS, v] = dt(_hammer_scale(exc, v, float(acc[_HQ, v]), float(acc[_HP, v]),
                                           float(half_k)))
            acc[_HK, v] = dt(float(k) / exc[H_MASS, v])
        else:
            acc[_HS, v] = zero
            acc[_HK, v] = zero
        for row in (_GP, _GU, _GB, _GPHI, _PHIGPHI, _PHIB):
            acc[row, v] = zero
    for m in range(n_modes):
        for v in range(n_lanes):
            pm = p[m, v]
            sign = (one if pm > zero else zero) - (one if pm < zero else zero)
            g = grad[m, v] * acc[_SCALE, v] + acc[_CORR, v] * sign
            grad[m, v] = g
            gm, shape = gain[m, v], drive[m, v]
            base = decay[m, v] * pm - stiff[m, v] * q[m, v] + gm * shape * acc[_FORCE, v]
            if coupled:
                base -= couple[m, v] * anti_q[m, v]
            acc[_GP, v] += g * pm
            acc[_GU, v] += g * gm * g
            acc[_GB, v] += g * base
            acc[_GPHI, v] += g * gm * shape
            acc[_PHIGPHI, v] += shape * gm * shape
            acc[_PHIB, v] += shape * base
    # The 2 x 2 system in a = nu^2 psi_half and b = s psi_h_half, by elimination of b (a lane
    # without a hammer has h2 = 0 and b = 0, and a is `_step`'s).
    for v in range(n_lanes):
        h, s = quarter_k * nu2[v], acc[_HS, v]
        h2 = quarter_k * s * s
        first = nu2[v] * psi[v] + h * (acc[_GP, v] + acc[_GB, v])
        second = s * dt(exc[H_PSI, v]) \
            + h2 * (two * dt(exc[H_V, v]) - acc[_HP, v] - acc[_PHIB, v])
        d22 = one + h2 * (acc[_HK, v] + acc[_PHIGPHI, v])
        cross = acc[_GPHI, v]
        a = (first + h * cross * second / d22) / (one + h * acc[_GU, v]
                                                  - h * h2 * cross * cross / d22)
        acc[_SCALE, v] = a
        acc[_HB, v] = (second + h2 * cross * a) / d22
        acc[_GPN, v] = zero
        acc[_HQ, v] = zero  # now Phi_h . p'
        out_row[v] = zero
    for m in range(n_modes):
        for v in range(n_lanes):
            gm, g, shape = gain[m, v], grad[m, v], drive[m, v]
            q_half = q[m, v]
            pn = decay[m, v] * p[m, v] - stiff[m, v] * q_half \
                + gm * shape * acc[_FORCE, v] - gm * (acc[_SCALE, v] * g - acc[_HB, v] * shape)
            if coupled:
                pn -= _anti_kick(anti, m, v, q_half, half_k)
            p[m, v] = pn
            acc[_GPN, v] += g * pn
            acc[_HQ, v] += shape * pn
            qn = q_half + half_k * pn
            q[m, v] = qn
            out_row[v] += pickup[m, v] * qn - tension[m, v] * acc[_SCALE, v] * g
    for v in range(n_lanes):
        psi[v] += half_k * (acc[_GP, v] + acc[_GPN, v])
        if exc[H_LEFT, v] > 0.0:
            velocity = exc[H_V, v]
            after = velocity - float(acc[_HK, v]) * float(acc[_HB, v])
            exc[H_Y, v] += float(half_k) * (velocity + after)
            exc[H_PSI, v] += float(half_k) * float(acc[_HS, v]) * (
                velocity + after - float(acc[_HP, v]) - float(acc[_HQ, v]))
            if acc[_HS, v] == zero and abs(exc[H_PSI, v]) > REST_PSI:
                exc[H_PSI, v] = REST_PSI  # out of contact: at rest again, never more energy
            exc[H_V, v] = after
            exc[H_LEFT, v] -= 1.0


NOISE_MODULUS = 2147483647.0  # the Lehmer generator's: 2^31 - 1
NOISE_MULTIPLIER = 16807.0


@njit(**INLINE)
def scrape_force(exc, v):
    """The scrape's force on lane v at this step: noise uniform in +-SCRAPE under a
    half-sine over the release, from the lane's Lehmer generator (exact in float64, so
    every render is the same); the scrape ends with the release."""
    t = (exc[ELAPSED, v] + 0.5) / exc[LEN, v] if exc[LEN, v] > 0.0 else 1.0
    if t < 0.0:
        return 0.0
    if t >= 1.0:
        exc[SCRAPE, v] = 0.0
        return 0.0
    seed = (NOISE_MULTIPLIER * exc[SEED, v]) % NOISE_MODULUS
    exc[SEED, v] = seed
    return exc[SCRAPE, v] * math.sin(math.pi * t) * (2.0 * seed / NOISE_MODULUS - 1.0)


@njit(**INLINE)
def lanes_advance(n_steps, n_lanes, q, p, anti_q, anti_p, coef, ramp, ramping, per_lane, exc,
                  k, lambda0, tables, scratch, hidden, column, grad, acc, out):
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
    anti = (anti_q, anti_p, coef[ANTI_DECAY], coef[ANTI_STIFF], coef[COUPLING],
            coef[ANTI_COUPLING])
    psi, nu2, d_nu2, countdown = per_lane[PSI], per_lane[NU2], per_lane[D_NU2], \
        per_lane[RESYNC]
    struck = False  # a hammer in play: the struck step for the whole call
    coupled = False  # mistuned unisons: their cancelling motion too
    for v in range(n_lanes):
        if exc[H_LEFT, v] > 0.0:
            struck = True
        if coef[COUPLING, 0, v] != dt(0.0):
            coupled = True
    for n in range(n_steps):
        for v in range(n_lanes):
            force = excitation_force(exc[ELAPSED, v], exc[AMP, v], exc[LEN, v], exc[SHAPE, v])
            if exc[SCRAPE, v] != 0.0:
                force += scrape_force(exc, v)
            acc[_FORCE, v] = dt(force)
            exc[ELAPSED, v] += 1.0
        if struck:
            _struck_step(n_lanes, q, p, decay, stiff, gain, drive, pickup, tension, anti,
                         coupled, psi, nu2, countdown, acc, exc, k, lambda0, tables, scratch,
                         hidden, column, grad, out[n])
        else:
            _step(n_lanes, q, p, decay, stiff, gain, drive, pickup, tension, anti, coupled,
                  psi, nu2, countdown, acc, k, lambda0, tables, scratch, hidden, column, grad,
                  out[n])
        if ramping:
            for row in RAMPED:
                for m in range(n_modes):
                    for v in range(n_lanes):
                        coef[row, m, v] += ramp[row, m, v]
            for v in range(n_lanes):
                nu2[v] += d_nu2[v]
