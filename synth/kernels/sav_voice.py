"""The voices of the SAV kinds (`sav-physics`, `sav-gradnet`): their arrays, and the kernels
through which the engine plays them (`synth.kinds.VoiceKernels`).

A voice is a lane of `synth.kernels.lanes`. Its string is described by gamma^2, kappa, its
losses (a record, `formulas.L_SIGMA0` ...; with its unisons' mistuning) and nu^2 (normalised
units) and where it is heard (a pickup position, or the bridge);
`retune` turns them into the warped per-mode coefficients of its lane, either at once or as
per-sample ramps over a block.
Modes above 0.45 fs are dropped (coefficients and state zeroed), so a parameter change can
never leave an unstable mode behind. Nothing here allocates.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from synth.kernels.aligned import whole_vectors
from synth.kernels.formulas import (
    AMP,
    E_AMPLITUDE,
    E_FELT,
    E_FELT_EXPONENT,
    E_HAMMER_MASS,
    E_HAMMER_VELOCITY,
    E_HOLD,
    E_LENGTH,
    E_POSITION,
    E_RELEASE,
    E_SCRAPE,
    E_SHAPE,
    E_WIDTH,
    ELAPSED,
    H_EXPONENT,
    H_FELT,
    H_LEFT,
    H_MASS,
    H_PSI,
    H_V,
    H_Y,
    HAMMER,
    HELD_PLUCK,
    L_MISTUNING,
    LEN,
    SCRAPE,
    SEED,
    SHAPE,
    contact_profile,
    mode_decay,
    mode_shape,
    pulse_shape,
    readout,
    squared_frequency,
    string_decay,
    tension_readout,
    unison_coupling,
    wavenumber2,
)
from synth.kernels.lane_potentials import PER_VOICE_LANES, lane_value
from synth.kernels.lanes import (
    ANTI_COUPLING,
    ANTI_DECAY,
    ANTI_STIFF,
    COUPLING,
    D_NU2,
    DECAY,
    DRIVE,
    GAIN,
    NU2,
    PICKUP,
    PSI,
    RAMPED,
    REST_PSI,
    RESYNC,
    STIFF,
    TENSION,
    lanes_advance,
)
from synth.kernels.linear import NYQUIST_FRACTION, mode_coefficients, warped_mode
from synth.kernels.options import INLINE, KERNEL
from synth.kernels.potentials import is_gradnet
from synth.kernels.sav import EPS

K, LAMBDA0, PSI_REST = 0, 1, 2  # the constants row: time step (s), drift control (1/s), psi
CONSTANTS = 3                   # at rest
HAMMER_SECONDS = 0.02  # a hammer is caught by the back check this long after it strikes


class SavVoices(NamedTuple):
    """The lanes of C voices of an M-mode SAV string (`synth.kernels.lanes` for the arrays;
    all in the kernel float type except exc and constants, float64)."""

    q: np.ndarray
    p: np.ndarray
    anti_q: np.ndarray
    anti_p: np.ndarray
    coef: np.ndarray
    ramp: np.ndarray
    per_lane: np.ndarray
    exc: np.ndarray
    tables: tuple  # the potential's (`synth.kernels.potentials`)
    scratch: np.ndarray
    hidden: np.ndarray
    column: np.ndarray
    grad: np.ndarray
    acc: np.ndarray
    constants: np.ndarray  # (CONSTANTS,) float64


@njit(**KERNEL)
def reset(voices, v):
    """Silence lane v: zero state, coefficients, ramps and excitation; psi at rest."""
    dt = voices.q.dtype.type
    q, p, coef, ramp = voices.q, voices.p, voices.coef, voices.ramp
    for m in range(q.shape[0]):
        q[m, v] = dt(0.0)
        p[m, v] = dt(0.0)
        voices.anti_q[m, v] = dt(0.0)
        voices.anti_p[m, v] = dt(0.0)
        for row in range(coef.shape[0]):
            coef[row, m, v] = dt(0.0)
            ramp[row, m, v] = dt(0.0)
    for row in range(voices.per_lane.shape[0]):
        voices.per_lane[row, v] = dt(0.0)
    voices.per_lane[PSI, v] = dt(voices.constants[PSI_REST])  # RESYNC = 0: recompute
    for row in range(voices.exc.shape[0]):
        voices.exc[row, v] = 0.0


@njit(**KERNEL)
def settle(voices, v):
    """Bring a lane whose sound has died away exactly to rest (a held voice that decays for
    minutes would otherwise reach denormal floats, which are slow)."""
    dt = voices.q.dtype.type
    for m in range(voices.q.shape[0]):
        voices.q[m, v] = dt(0.0)
        voices.p[m, v] = dt(0.0)
        voices.anti_q[m, v] = dt(0.0)
        voices.anti_p[m, v] = dt(0.0)
    voices.per_lane[PSI, v] = dt(voices.constants[PSI_REST])
    voices.per_lane[RESYNC, v] = dt(0.0)


@njit(**INLINE)
def _set(coef, ramp, row, m, v, value, n_ramp):
    """coef[row, m, v] becomes `value`: at once (n_ramp 0) or over n_ramp steps."""
    dt = coef.dtype.type
    if n_ramp > 0:
        ramp[row, m, v] = dt((value - coef[row, m, v]) / n_ramp)
    else:
        coef[row, m, v] = dt(value)
        ramp[row, m, v] = dt(0.0)


@njit(**KERNEL)
def retune(voices, v, gamma2, kappa, losses, nu2, pickup, n_ramp):
    """Give lane v the string (gamma2, kappa, nu2; each mode decaying as the loss record
    `losses` says, `formulas.mode_decay`, and coupled to its unisons' cancelling motion as
    their mistuning says, `lanes`) heard at `pickup` (0..1, or `formulas.BRIDGE`: the force
    on the bridge, see `formulas.readout`).

    With n_ramp > 0, modes that are already sounding glide to their new coefficients over
    n_ramp steps (coef + n_ramp * ramp = target); otherwise the coefficients are set at once.
    """
    coef, ramp = voices.coef, voices.ramp
    dt = coef.dtype.type
    k = voices.constants[K]
    omega_max = NYQUIST_FRACTION * 2.0 * math.pi / k
    share = unison_coupling(losses[L_MISTUNING])
    for m in range(coef.shape[1]):
        beta2 = wavenumber2(m + 1)
        omega = math.sqrt(squared_frequency(gamma2, kappa, beta2))
        if omega > omega_max or share == 0.0:
            voices.anti_q[m, v] = dt(0.0)
            voices.anti_p[m, v] = dt(0.0)
        if omega > omega_max:
            for row in RAMPED:
                coef[row, m, v] = dt(0.0)
                ramp[row, m, v] = dt(0.0)
            voices.q[m, v] = dt(0.0)
            voices.p[m, v] = dt(0.0)
            continue
        omega2_s, sigma_s = warped_mode(omega, mode_decay(losses, gamma2, kappa, beta2), k)
        decay, stiff, gain = mode_coefficients(omega2_s, sigma_s, k)
        anti_decay, anti_stiff, anti_gain = 0.0, 0.0, 0.0
        if share > 0.0:  # the cancelling motion keeps the string's own losses alone
            anti_omega2_s, anti_sigma_s = warped_mode(
                omega, string_decay(losses, gamma2, kappa, beta2), k)
            anti_decay, anti_stiff, anti_gain = mode_coefficients(anti_omega2_s,
                                                                  anti_sigma_s, k)
        coupling = share * omega2_s
        n = n_ramp if coef[GAIN, m, v] != dt(0.0) else 0  # a silent mode starts at once
        _set(coef, ramp, DECAY, m, v, decay, n)
        _set(coef, ramp, STIFF, m, v, stiff, n)
        _set(coef, ramp, GAIN, m, v, gain, n)
        _set(coef, ramp, PICKUP, m, v, readout(m + 1, pickup, gamma2, kappa), n)
        _set(coef, ramp, TENSION, m, v, tension_readout(m + 1, pickup, gamma2), n)
        _set(coef, ramp, ANTI_DECAY, m, v, anti_decay, n)
        _set(coef, ramp, ANTI_STIFF, m, v, anti_stiff, n)
        _set(coef, ramp, COUPLING, m, v, gain * coupling, n)
        _set(coef, ramp, ANTI_COUPLING, m, v, anti_gain * coupling, n)
    per_lane = voices.per_lane
    if n_ramp > 0:
        per_lane[D_NU2, v] = dt((nu2 - per_lane[NU2, v]) / n_ramp)
    else:
        per_lane[NU2, v] = dt(nu2)
        per_lane[D_NU2, v] = dt(0.0)


@njit(**KERNEL)
def excite(voices, v, excitation):
    """Start lane v's excitation now, as the record `excitation` (`formulas.E_AMPLITUDE`
    ...) asks: a force pulse (PLUCK or STRIKE) of its amplitude and length, a HAMMER of
    its mass and felt that meets the string now at its velocity, or a HELD_PLUCK that holds
    the string deflected and lets go; each spread over the contact's half-width around its
    position (`formulas.contact_profile`). The SAV string
    takes the force as it is (the note scale matters only to the learned kinds)."""
    coef, exc, q = voices.coef, voices.exc, voices.q
    dt = coef.dtype.type
    position, width = excitation[E_POSITION], excitation[E_WIDTH]
    under = 0.0  # the string's displacement under the hammer
    for m in range(coef.shape[1]):
        shape = mode_shape(m + 1, position) * contact_profile((m + 1) * math.pi, width)
        coef[DRIVE, m, v] = dt(shape)
        under += shape * q[m, v]
    exc[ELAPSED, v] = 0.0
    if excitation[E_SHAPE] == HAMMER and excitation[E_HAMMER_MASS] > 0.0:
        exc[AMP, v], exc[LEN, v], exc[SHAPE, v] = 0.0, 0.0, HAMMER
        exc[H_Y, v], exc[H_V, v] = under, excitation[E_HAMMER_VELOCITY]
        exc[H_PSI, v] = REST_PSI  # the felt is not yet compressed
        exc[H_MASS, v] = excitation[E_HAMMER_MASS]
        exc[H_FELT, v], exc[H_EXPONENT, v] = excitation[E_FELT], excitation[E_FELT_EXPONENT]
        exc[H_LEFT, v] = math.ceil(HAMMER_SECONDS / voices.constants[K])
        return
    exc[H_LEFT, v], exc[SCRAPE, v] = 0.0, 0.0
    if excitation[E_SHAPE] == HELD_PLUCK and excitation[E_HOLD] > 0.0:
        _hold(voices, v, excitation)
        return
    exc[AMP, v] = excitation[E_AMPLITUDE]
    exc[LEN, v] = excitation[E_LENGTH]
    exc[SHAPE, v] = pulse_shape(excitation[E_SHAPE])


@njit(**KERNEL)
def _hold(voices, v, excitation):
    """Lane v held deflected by the pluck's force H at its contact (the DRIVE row): in the
    scheme's equilibrium, q_m = H DRIVE_m GAIN_m / STIFF_m, p = 0 (with mistuned unisons,
    the coupled one: STIFF q + COUPLING x = H DRIVE GAIN, ANTI_STIFF x + ANTI_COUPLING q = 0),
    psi consistent with q; then let go over the release, with the scrape's noise
    (`formulas.HELD_PLUCK`)."""
    coef, exc, q, p = voices.coef, voices.exc, voices.q, voices.p
    dt = q.dtype.type
    hold = excitation[E_HOLD]
    for m in range(q.shape[0]):
        stiff, couple = float(coef[STIFF, m, v]), float(coef[COUPLING, m, v])
        anti_stiff, anti_couple = float(coef[ANTI_STIFF, m, v]), float(coef[ANTI_COUPLING, m, v])
        pushed = hold * coef[DRIVE, m, v] * coef[GAIN, m, v]
        if stiff == 0.0:
            q[m, v], voices.anti_q[m, v] = dt(0.0), dt(0.0)
        elif couple == 0.0:
            q[m, v] = dt(pushed / stiff)
        else:
            held = pushed * anti_stiff / (stiff * anti_stiff - couple * anti_couple)
            q[m, v] = dt(held)
            voices.anti_q[m, v] = dt(-anti_couple * held / anti_stiff)
        p[m, v] = dt(0.0)
        voices.anti_p[m, v] = dt(0.0)
    value = lane_value(voices.tables, q, v, voices.column)
    voices.per_lane[PSI, v] = dt(math.sqrt(2.0 * value + EPS))
    voices.per_lane[RESYNC, v] = dt(0.0)
    exc[AMP, v], exc[LEN, v], exc[SHAPE, v] = hold, excitation[E_RELEASE], HELD_PLUCK
    exc[SCRAPE, v] = excitation[E_SCRAPE] * hold
    if exc[SEED, v] == 0.0:
        exc[SEED, v] = 1.0 + v  # each lane its own noise, the same in every render


@njit(**KERNEL)
def advance(voices, n_steps, n_lanes, ramping, out):
    """Advance lanes [0, n_lanes) by n_steps, writing what each is heard as (the pickup's
    displacement or the bridge force, as retuned) to out (n_steps, C); with ramping,
    the coefficients move by their ramps every step.

    More than PER_VOICE_LANES lanes are rounded up to whole vectors (`aligned.whole_vectors`);
    the GradNet, evaluated voice by voice, is not."""
    dt = voices.q.dtype.type
    if n_lanes > PER_VOICE_LANES and not is_gradnet(voices.tables):
        n_lanes = whole_vectors(n_lanes, voices.q)
    lanes_advance(n_steps, n_lanes, voices.q, voices.p, voices.anti_q, voices.anti_p,
                  voices.coef, voices.ramp, ramping, voices.per_lane, voices.exc,
                  dt(voices.constants[K]), dt(voices.constants[LAMBDA0]), voices.tables,
                  voices.scratch, voices.hidden, voices.column, voices.grad, voices.acc, out)


@njit(**KERNEL)
def end_ramps(voices, n_lanes):
    """Stop the coefficient ramps of lanes [0, n_lanes) at the end of a block."""
    ramp = voices.ramp
    dt = ramp.dtype.type
    for row in range(ramp.shape[0]):
        for m in range(ramp.shape[1]):
            for v in range(n_lanes):
                ramp[row, m, v] = dt(0.0)
    for v in range(n_lanes):
        voices.per_lane[D_NU2, v] = dt(0.0)


@njit(**KERNEL)
def is_finite(voices, v):
    """Whether lane v's state is finite (psi carries any blow-up of q and p)."""
    return np.isfinite(voices.per_lane[PSI, v])


@njit(**KERNEL)
def publish_modes(voices, v, energies):
    """Write lane v's energy per mode into `energies` (M,) and return (q_1, p_1 / omega_1,
    omega_1): the first mode's phase, from which a viewer reads the pitch and its glide."""
    q1, p1, omega1 = 0.0, 0.0, 0.0
    coef = voices.coef
    for m in range(voices.q.shape[0]):
        gain = coef[GAIN, m, v]
        omega2 = coef[STIFF, m, v] / gain if gain != 0.0 else 0.0
        q, p = voices.q[m, v], voices.p[m, v]
        energies[m] = 0.5 * (p * p + omega2 * q * q)
        if m == 0:
            omega1 = np.sqrt(omega2)
            q1, p1 = q, p / omega1 if omega1 > 0.0 else 0.0
    return q1, p1, omega1
