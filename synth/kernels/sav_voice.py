"""Per-voice set-up of the SAV lanes (`synth.kernels.lanes`): reset, tuning and excitation.

A voice's string is described by gamma^2, kappa, sigma0, sigma1 and nu^2 (normalised units,
DESIGN.md section 3) and its pickup position; `retune` turns them into the warped per-mode
coefficients of its lane, either at once or as per-sample ramps over a block. Modes above
0.45 fs are dropped (coefficients and state zeroed), so a parameter change can never leave an
unstable mode behind. Nothing here allocates.
"""

import math

from numba import njit

from synth.kernels.lanes import (
    AMP,
    D_NU2,
    DECAY,
    DRIVE,
    ELAPSED,
    GAIN,
    LEN,
    NU2,
    PICKUP,
    PSI,
    RESYNC,
    SHAPE,
    STIFF,
)
from synth.kernels.linear import NYQUIST_FRACTION, mode_coefficients, warped_mode
from synth.kernels.potentials import KERNEL

SQRT2 = math.sqrt(2.0)


@njit(**KERNEL)
def reset(v, q, p, coef, ramp, per_lane, exc, psi_rest):
    """Silence lane v: zero state, coefficients, ramps and excitation; psi at rest."""
    dt = q.dtype.type
    for m in range(q.shape[0]):
        q[m, v] = dt(0.0)
        p[m, v] = dt(0.0)
        for row in range(coef.shape[0]):
            coef[row, m, v] = dt(0.0)
            ramp[row, m, v] = dt(0.0)
    for row in range(per_lane.shape[0]):
        per_lane[row, v] = dt(0.0)
    per_lane[PSI, v] = dt(psi_rest)  # RESYNC = 0 forces the GradNet to recompute its layer
    for row in range(exc.shape[0]):
        exc[row, v] = 0.0


@njit(**KERNEL)
def retune(v, gamma2, kappa, sigma0, sigma1, nu2, pickup, k, q, p, coef, ramp, per_lane,
           n_ramp):
    """Give lane v the string (gamma2, kappa, sigma0, sigma1, nu2) heard at `pickup` (0..1).

    With n_ramp > 0, modes that are already sounding glide to their new coefficients over
    n_ramp steps (coef + n_ramp * ramp = target); otherwise the coefficients are set at once.
    Returns the number of modes kept below 0.45 fs.
    """
    dt = coef.dtype.type
    n_modes = coef.shape[1]
    omega_max = NYQUIST_FRACTION * 2.0 * math.pi / k
    kept = 0
    for m in range(n_modes):
        beta = (m + 1) * math.pi
        beta2 = beta * beta
        omega = math.sqrt(gamma2 * beta2 + kappa * kappa * beta2 * beta2)
        if omega > omega_max:
            for row in (DECAY, STIFF, GAIN, PICKUP):
                coef[row, m, v] = dt(0.0)
                ramp[row, m, v] = dt(0.0)
            q[m, v] = dt(0.0)
            p[m, v] = dt(0.0)
            continue
        kept += 1
        omega2_s, sigma_s = warped_mode(omega, sigma0 + sigma1 * beta2, k)
        decay, stiff, gain = mode_coefficients(omega2_s, sigma_s, k)
        listen = SQRT2 * math.sin(beta * pickup)
        if n_ramp > 0 and coef[GAIN, m, v] != dt(0.0):
            ramp[DECAY, m, v] = dt((decay - coef[DECAY, m, v]) / n_ramp)
            ramp[STIFF, m, v] = dt((stiff - coef[STIFF, m, v]) / n_ramp)
            ramp[GAIN, m, v] = dt((gain - coef[GAIN, m, v]) / n_ramp)
            ramp[PICKUP, m, v] = dt((listen - coef[PICKUP, m, v]) / n_ramp)
        else:
            coef[DECAY, m, v] = dt(decay)
            coef[STIFF, m, v] = dt(stiff)
            coef[GAIN, m, v] = dt(gain)
            coef[PICKUP, m, v] = dt(listen)
            for row in (DECAY, STIFF, GAIN, PICKUP):
                ramp[row, m, v] = dt(0.0)
    if n_ramp > 0:
        per_lane[D_NU2, v] = dt((nu2 - per_lane[NU2, v]) / n_ramp)
    else:
        per_lane[NU2, v] = dt(nu2)
        per_lane[D_NU2, v] = dt(0.0)
    return kept


@njit(**KERNEL)
def excite(v, amplitude, length, shape, position, coef, exc):
    """Start a force pulse on lane v now: amplitude (normalised), length (steps), shape
    (`sav.PLUCK` or `sav.STRIKE`) at `position` (0..1) along the string."""
    dt = coef.dtype.type
    for m in range(coef.shape[1]):
        coef[DRIVE, m, v] = dt(SQRT2 * math.sin((m + 1) * math.pi * position))
    exc[ELAPSED, v] = 0.0
    exc[AMP, v] = amplitude
    exc[LEN, v] = length
    exc[SHAPE, v] = shape


@njit(**KERNEL)
def settle(v, q, p, per_lane, psi_rest):
    """Bring a lane whose sound has died away exactly to rest (a held voice that decays for
    minutes would otherwise reach denormal floats, which are slow)."""
    dt = q.dtype.type
    for m in range(q.shape[0]):
        q[m, v] = dt(0.0)
        p[m, v] = dt(0.0)
    per_lane[PSI, v] = dt(psi_rest)
    per_lane[RESYNC, v] = dt(0.0)
