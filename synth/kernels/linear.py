"""Per-mode coefficients of the SAV scheme's linear part: frequency warping and mode dropping.

The scheme's linear part (docs/design.md, "The string and its SAV step") advances a mode
(q, p) with decay rate sigma_s and frequency omega_s. Its two discrete poles satisfy
(a = k sigma_s, b = k^2 omega_s^2)

    |z|^2 = (1 - a) / (1 + a),     2 |z| cos(arg z) = (2 - b) / (1 + a).

Unwarped, the scheme uses the physical omega and sigma and so rings slightly sharp, with
error O((k omega)^2). Warped, sigma_s and omega_s are chosen so the poles equal the exact ones,
exp(k (-sigma +- i sqrt(omega^2 - sigma^2))):

    sigma_s = tanh(k sigma) / k
    omega_s^2 = 4 (sinh^2(k sigma / 2) + sin^2(k omega_d / 2)) / (k^2 cosh(k sigma))

so every mode rings at its physical damped frequency and decays at its physical rate. With
sigma = 0 this is the warping omega_s = (2 / k) sin(omega k / 2). Stability needs
k omega_s < 2, which the warped map guarantees below Nyquist. A mode is dropped when it
would break that bound or lies above 0.45 fs; modes are sorted by frequency, so the kept
modes are always a prefix 0..n_keep-1.
"""

import math

from numba import njit

from synth.kernels.options import KERNEL

NYQUIST_FRACTION = 0.45  # highest kept mode frequency, as a fraction of the sampling rate


@njit(**KERNEL, inline="always")
def warped_mode(omega, sigma, k):
    """(omega_s^2, sigma_s) that make the scheme's poles those of the damped oscillator with
    angular frequency omega (rad/s) and decay rate sigma (1/s), at time step k (s)."""
    a = k * sigma
    d2 = omega * omega - sigma * sigma
    if d2 >= 0.0:
        osc = math.sin(0.5 * k * math.sqrt(d2)) ** 2
    else:  # overdamped: cos becomes cosh
        osc = -math.sinh(0.5 * k * math.sqrt(-d2)) ** 2
    omega2_s = 4.0 * (math.sinh(0.5 * a) ** 2 + osc) / (k * k * math.cosh(a))
    return omega2_s, math.tanh(a) / k


@njit(**KERNEL, inline="always")
def mode_coefficients(omega2_s, sigma_s, k):
    """(decay, stiff, gain) of one mode: (1 - k s)/(1 + k s), k w^2/(1 + k s), k/(1 + k s)."""
    d = 1.0 + k * sigma_s
    return (1.0 - k * sigma_s) / d, k * omega2_s / d, k / d


@njit(**KERNEL)
def scheme_modes(omega, sigma, k, warp, omega2_s, sigma_s):
    """Fill the scheme's omega_s^2 and sigma_s, shape (M,), and return how many modes are kept.

    omega, sigma: physical angular frequencies (rad/s) and decay rates (1/s), shape (M,),
    increasing with m; k: time step (s); warp: match the exact poles. Entries of dropped
    modes are set to zero.
    """
    n_modes = omega.shape[0]
    omega_max = NYQUIST_FRACTION * 2.0 * math.pi / k
    n_keep = n_modes
    for m in range(n_modes):
        w, s = omega[m], sigma[m]
        if w > omega_max or (not warp and k * w >= 2.0):
            n_keep = m
            break
        if warp:
            omega2_s[m], sigma_s[m] = warped_mode(w, s, k)
        else:
            omega2_s[m] = w * w
            sigma_s[m] = s
    for m in range(n_keep, n_modes):
        omega2_s[m] = 0.0
        sigma_s[m] = 0.0
    return n_keep


@njit(**KERNEL)
def sav_coefficients(omega2_s, sigma_s, k, n_keep, decay, stiff, gain):
    """Fill the per-mode update coefficients of the SAV step, shape (M,), using
    `mode_coefficients`; zero for dropped modes (m >= n_keep)."""
    for m in range(omega2_s.shape[0]):
        if m < n_keep:
            decay[m], stiff[m], gain[m] = mode_coefficients(omega2_s[m], sigma_s[m], k)
        else:
            decay[m] = 0.0
            stiff[m] = 0.0
            gain[m] = 0.0
