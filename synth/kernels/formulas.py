"""The string's formulas, compiled for the kernels: dispersion, damping, mode shapes and the
readout (a point or the bridge), the gamma of a note (the same functions as
`synth.physics.modes`, written there once), and the excitation's force pulse.

The force pulse is f(t) = A/2 (1 - cos(shape pi t / T_e)) for 0 <= t <= T_e and 0 otherwise,
shape PLUCK (1) or STRIKE (2) (`synth.physics.excitation`).
"""

import math

from numba import njit

from synth.kernels.options import INLINE
from synth.physics import modes, strings

PLUCK, STRIKE = 1, 2  # excitation shapes: f = A/2 (1 - cos(shape pi t / T_e)) for 0 <= t <= T_e
# The state of a voice's force pulse, one column per voice (float64): steps since the onset
# (negative: not yet), amplitude (normalised force), length (steps) and shape code.
ELAPSED, AMP, LEN, SHAPE = 0, 1, 2, 3
EXC_ROWS = 4

squared_frequency = njit(**INLINE)(modes.squared_frequency)
decay_rate = njit(**INLINE)(modes.decay_rate)
mode_shape = njit(**INLINE)(modes.mode_shape)
readout = njit(**INLINE)(modes.readout)
note_frequency = njit(**INLINE)(strings.note_frequency)
tension_readout = njit(**INLINE)(modes.tension_readout)
BRIDGE = modes.BRIDGE
first_mode_gamma2 = njit(**INLINE)(modes.first_mode_gamma2)


@njit(**INLINE)
def wavenumber2(m):
    """beta^2 = (m pi)^2 of mode number m >= 1."""
    return (m * math.pi) ** 2


@njit(**INLINE)
def excitation_force(elapsed, amplitude, length, shape):
    """Force at the midpoint of the step that starts `elapsed` steps after the onset.

    length: excitation duration in steps (T_e fs); shape: PLUCK or STRIKE. Zero before the
    onset (negative `elapsed`), after the release, and for length <= 0.
    """
    if length <= 0.0:
        return 0.0
    t = (elapsed + 0.5) / length
    if t < 0.0 or t > 1.0:
        return 0.0
    return 0.5 * amplitude * (1.0 - math.cos(shape * math.pi * t))
