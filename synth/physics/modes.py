"""The modal basis of the simply supported unit string, and its formulas (one home for each).

Phi_m(x) = sqrt(2) sin(beta_m x) with beta_m = m pi, m = 1..M, is orthonormal on [0, 1].
Mode m has angular frequency omega_m = sqrt(gamma^2 beta_m^2 + kappa^2 beta_m^4) (rad/s) and
decay rate sigma_m = sigma0 + sigma1 beta_m^2 (1/s); it rings at sqrt(omega_m^2 - sigma_m^2).

The string is heard through `readout`: at a point x (Phi_m(x)), or at the bridge, where its
end pushes with the force F / T = u_x(0) + (kappa^2 / gamma^2) (-u_xxx(0)) per unit tension
(string tension and bending shear; the bridge is at x = 0), so mode m weighs
sqrt(2) beta_m (1 + kappa^2 beta_m^2 / gamma^2); a nonlinear string's extra tension adds its
share, read from the modal nonlinear forces (`tension_readout`).

The formulas (`squared_frequency`, `decay_rate`, `mode_shape`, `readout`,
`first_mode_gamma2`) are plain arithmetic on scalars or NumPy arrays;
`synth.kernels.formulas` compiles the very same functions for the Numba kernels, so each is
written once.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

import numpy as np

from synth.errors import ParameterError

if TYPE_CHECKING:
    from synth.physics.strings import StringParams

MAX_MODES = 4096
SQRT2 = math.sqrt(2.0)


def squared_frequency(gamma2, kappa, beta2):
    """omega^2 = gamma^2 beta^2 + kappa^2 beta^4 (rad^2/s^2) of the mode with wavenumber^2
    beta2; gamma2 = gamma^2 (1/s^2), kappa (1/s)."""
    return gamma2 * beta2 + kappa * kappa * beta2 * beta2


def decay_rate(sigma0, sigma1, beta2):
    """sigma = sigma0 + sigma1 beta^2 (1/s) of the mode with wavenumber^2 beta2."""
    return sigma0 + sigma1 * beta2


def mode_shape(m, x):
    """Phi_m(x) = sqrt(2) sin(m pi x) for mode number m >= 1 at x in [0, 1]."""
    return SQRT2 * np.sin(m * np.pi * x)


BRIDGE = -1.0  # a readout "position" that asks for the force on the bridge (`readout`)


def readout(m, x, gamma2, kappa):
    """The weight of mode m >= 1 in what is heard: Phi_m(x) at a point x in [0, 1], or, for
    x = BRIDGE, the mode's force on the bridge per unit tension and unit displacement,
    sqrt(2) beta_m (1 + kappa^2 beta_m^2 / gamma^2) (gamma2 = gamma^2 > 0, 1/s^2)."""
    if x == BRIDGE:
        beta = m * np.pi
        return SQRT2 * beta * (1.0 + kappa * kappa * beta * beta / gamma2)
    return SQRT2 * np.sin(m * np.pi * x)  # mode_shape, written out for the compiled twin


def tension_readout(m, x, gamma2):
    """The weight of mode m's nonlinear force f_m (the potential's, -nu^2 dV/dq_m) in what is
    heard: at the bridge, -sqrt(2) / (beta_m gamma^2), so that sum_m weight f_m is the extra
    tension's share of the end force per unit tension (exact for Kirchhoff-Carrier, whose
    f_m = -dT beta_m^2 q_m; the same projection for the other potentials); 0 at a point."""
    if x == BRIDGE:
        return -SQRT2 / (m * np.pi * gamma2)
    return 0.0 * m  # zero in m's shape (an array of mode numbers gives an array)


def contact_profile(beta, half_width):
    """How much of a mode of wavenumber beta (m pi) a force spread over a raised cosine of
    half-width a = `half_width` (a fraction of the length, >= 0) puts in, relative to a point
    force at the contact's centre: the window's transform sin(beta a) / (beta a)
    * pi^2 / (pi^2 - (beta a)^2), 1 at a = 0, 1/2 at beta a = pi, then falling as (beta a)^-3
    with sign changes. So a mode's drive is Phi_m(x_e) contact_profile(beta_m, a)."""
    x = beta * half_width
    x2 = x * x
    if abs(x) < 1e-4:  # the series, where both factors are 1 to rounding
        return 1.0 - x2 * (1.0 / 6.0 - 1.0 / (np.pi * np.pi))
    if abs(abs(x) - np.pi) < 1e-6:  # the removable singularity
        return 0.5
    return np.sin(x) / x * np.pi * np.pi / (np.pi * np.pi - x2)


def first_mode_gamma2(frequency, kappa, sigma_1):
    """gamma^2 (1/s^2) that makes the first mode ring (damped) at `frequency` Hz, given kappa
    and its decay rate sigma_1 (1/s): sqrt(omega_1^2 - sigma_1^2) = 2 pi f. Not positive
    when the string is too stiff to sound that low."""
    return ((2.0 * np.pi * frequency) ** 2 + sigma_1 * sigma_1
            - kappa * kappa * np.pi ** 4) / np.pi ** 2


def check_mode_count(n_modes: int) -> int:
    """Return n_modes as int if it is a whole number in 1..MAX_MODES, else raise ParameterError."""
    if (isinstance(n_modes, bool) or not isinstance(n_modes, numbers.Real)
            or not math.isfinite(n_modes) or not float(n_modes).is_integer()
            or not 1 <= n_modes <= MAX_MODES):
        raise ParameterError(f"n_modes must be a whole number from 1 to {MAX_MODES}, "
                             f"got {n_modes!r}")
    return int(n_modes)


def wavenumbers(n_modes: int) -> np.ndarray:
    """beta_m = m pi for m = 1..n_modes, shape (M,)."""
    return np.arange(1, check_mode_count(n_modes) + 1, dtype=np.float64) * np.pi


def angular_frequencies(string: StringParams, n_modes: int) -> np.ndarray:
    """Undamped omega_m (rad/s), shape (M,)."""
    return np.sqrt(squared_frequency(string.gamma ** 2, string.kappa,
                                     wavenumbers(n_modes) ** 2))


def decay_rates(string: StringParams, n_modes: int) -> np.ndarray:
    """sigma_m (1/s), shape (M,)."""
    return decay_rate(string.sigma0, string.sigma1, wavenumbers(n_modes) ** 2)


def damped_frequencies(string: StringParams, n_modes: int) -> np.ndarray:
    """Frequencies the modes ring at, sqrt(omega^2 - sigma^2) / (2 pi) in Hz (0 if overdamped)."""
    omega, sigma = angular_frequencies(string, n_modes), decay_rates(string, n_modes)
    return np.sqrt(np.maximum(omega**2 - sigma**2, 0.0)) / (2.0 * np.pi)


def mode_shapes(x: float | np.ndarray, n_modes: int) -> np.ndarray:
    """Phi_m(x); shape (M,) for scalar x, (len(x), M) for an array."""
    modes = np.arange(1, check_mode_count(n_modes) + 1, dtype=np.float64)
    return mode_shape(modes, np.asarray(x, dtype=np.float64)[..., np.newaxis])
