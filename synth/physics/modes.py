"""The modal basis of the simply supported unit string.

Phi_m(x) = sqrt(2) sin(beta_m x) with beta_m = m pi, m = 1..M, is orthonormal on [0, 1].
Mode m has angular frequency omega_m = sqrt(gamma^2 beta_m^2 + kappa^2 beta_m^4) (rad/s) and
decay rate sigma_m = sigma0 + sigma1 beta_m^2 (1/s); it rings at sqrt(omega_m^2 - sigma_m^2).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from synth.errors import ParameterError
from synth.physics.strings import StringParams

MAX_MODES = 4096


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
    beta2 = wavenumbers(n_modes) ** 2
    return np.sqrt(string.gamma**2 * beta2 + string.kappa**2 * beta2**2)


def decay_rates(string: StringParams, n_modes: int) -> np.ndarray:
    """sigma_m (1/s), shape (M,)."""
    return string.sigma0 + string.sigma1 * wavenumbers(n_modes) ** 2


def damped_frequencies(string: StringParams, n_modes: int) -> np.ndarray:
    """Frequencies the modes ring at, sqrt(omega^2 - sigma^2) / (2 pi) in Hz (0 if overdamped)."""
    omega, sigma = angular_frequencies(string, n_modes), decay_rates(string, n_modes)
    return np.sqrt(np.maximum(omega**2 - sigma**2, 0.0)) / (2.0 * np.pi)


def mode_shapes(x: float | np.ndarray, n_modes: int) -> np.ndarray:
    """Phi_m(x) = sqrt(2) sin(beta_m x); shape (M,) for scalar x, (len(x), M) for an array."""
    x = np.asarray(x, dtype=np.float64)
    return np.sqrt(2.0) * np.sin(np.multiply.outer(x, wavenumbers(n_modes)))
