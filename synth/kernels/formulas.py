"""The string's formulas, compiled for the kernels: dispersion, the losses of each mode, mode
shapes, the contact's spread and the readout (a point or the bridge), the gamma of a note, the
hammer's felt (the same functions as `synth.physics.modes`, `physics.losses` and
`physics.hammer`, written there once), the excitation's force pulse, and the records a kind's
`retune` (the losses) and `excite` (the excitation) receive.

The force pulse is f(t) = A/2 (1 - cos(shape pi t / T_e)) for 0 <= t <= T_e and 0 otherwise,
shape PLUCK (1) or STRIKE (2) (`synth.physics.excitation`). Shape HAMMER (3) asks for a
hammer, a mass on a felt spring that collides with the string (`synth.physics.hammer`); a
kind that has no hammer plays the record's pulse as a STRIKE instead. Shape HELD_PLUCK (4)
asks for a finger's or plectrum's pluck (`synth.physics.pluck`): the string held deflected
by the force H, which lets go as H/2 (1 + cos(pi t / T_r)) over the release T_r, with the
scrape's noise; a kind that cannot hold its string plays the record's pulse as a PLUCK.
"""

import math

import numpy as np
from numba import njit

from synth.kernels.options import INLINE
from synth.physics import hammer, losses, modes, pluck, strings

PLUCK, STRIKE, HAMMER, HELD_PLUCK = 1, 2, 3, 4  # excitation shapes
# The excitation record (float64, EXCITE_FIELDS), what `excite` is given at a note-on; a kind
# reads the fields it knows:
#   E_AMPLITUDE: the pulse's normalised force (the engine's per-note scale included);
#   E_NOTE_SCALE: that per-note scale (models of one trained string divide it out);
#   E_LENGTH: the pulse's length (steps); E_SHAPE: PLUCK, STRIKE, HAMMER or HELD_PLUCK;
#   E_POSITION: where along the string (0..1); E_WIDTH: the contact's half-width (0..1,
#   `modes.contact_profile`); E_HAMMER_VELOCITY (1/s), E_HAMMER_MASS (mass ratio r),
#   E_FELT, E_FELT_EXPONENT: the hammer in normalised units (`physics.hammer`);
#   E_HOLD: a HELD_PLUCK's holding force (normalised), E_RELEASE: its release (steps),
#   E_SCRAPE: its noise's amplitude as a share of the holding force.
(E_AMPLITUDE, E_NOTE_SCALE, E_LENGTH, E_SHAPE, E_POSITION, E_WIDTH, E_HAMMER_VELOCITY,
 E_HAMMER_MASS, E_FELT, E_FELT_EXPONENT, E_HOLD, E_RELEASE, E_SCRAPE) = range(13)
EXCITE_FIELDS = 13
# The state of a voice's excitation, one column per voice (float64): steps since the onset
# (negative: not yet), amplitude (normalised force), length (steps) and shape code of the
# force pulse; then its hammer: displacement y and velocity (normalised), auxiliary variable
# psi_h, mass ratio, felt stiffness and exponent, and the steps left before the back check
# catches it (<= 0: no hammer); then a HELD_PLUCK's scrape: its amplitude (normalised
# force) and the state of its noise generator.
ELAPSED, AMP, LEN, SHAPE = 0, 1, 2, 3
H_Y, H_V, H_PSI, H_MASS, H_FELT, H_EXPONENT, H_LEFT = 4, 5, 6, 7, 8, 9, 10
SCRAPE, SEED = 11, 12
EXC_ROWS = 13

# The loss record (float64, LOSS_FIELDS) `retune` is given: the coefficients of
# `synth.physics.losses` and the unisons' mistuning, in its order (L_SIGMA0 ...)
LOSS_FIELDS = len(losses.LOSS_NAMES)
L_SIGMA0, L_SIGMA1, L_AIR, L_FRICTION, L_BENDING, L_BRIDGE, L_BRIDGE_MASS, L_MISTUNING = (
    losses.L_SIGMA0, losses.L_SIGMA1, losses.L_AIR, losses.L_FRICTION, losses.L_BENDING,
    losses.L_BRIDGE, losses.L_BRIDGE_MASS, losses.L_MISTUNING)
RISING = losses.RISING

squared_frequency = njit(**INLINE)(modes.squared_frequency)
string_decay = njit(**INLINE)(losses.string_decay)
bridge_decay = njit(**INLINE)(losses.bridge_decay)
unison_coupling = njit(**INLINE)(losses.unison_coupling)
mode_shape = njit(**INLINE)(modes.mode_shape)
readout = njit(**INLINE)(modes.readout)
note_frequency = njit(**INLINE)(strings.note_frequency)
tension_readout = njit(**INLINE)(modes.tension_readout)
BRIDGE = modes.BRIDGE
first_mode_gamma2 = njit(**INLINE)(modes.first_mode_gamma2)
contact_profile = njit(**INLINE)(modes.contact_profile)
felt_potential = njit(**INLINE)(hammer.felt_potential)
felt_force = njit(**INLINE)(hammer.felt_force)
plectrum_release = njit(**INLINE)(pluck.plectrum_release)
slip_release = njit(**INLINE)(pluck.slip_release)


def excitation_record(amplitude: float, length: float, shape: int, position: float,
                      note_scale: float = 1.0, width: float = 0.0, hammer_velocity=0.0,
                      hammer_mass=0.0, felt=0.0, felt_exponent=0.0, hold=0.0, release=0.0,
                      scrape=0.0) -> np.ndarray:
    """The record (EXCITE_FIELDS,) float64 of one excitation, for calling `excite` from
    Python (the engine fills its own in place)."""
    record = np.zeros(EXCITE_FIELDS)
    record[E_AMPLITUDE], record[E_NOTE_SCALE], record[E_LENGTH] = amplitude, note_scale, length
    record[E_SHAPE], record[E_POSITION], record[E_WIDTH] = shape, position, width
    record[E_HAMMER_VELOCITY], record[E_HAMMER_MASS] = hammer_velocity, hammer_mass
    record[E_FELT], record[E_FELT_EXPONENT] = felt, felt_exponent
    record[E_HOLD], record[E_RELEASE], record[E_SCRAPE] = hold, release, scrape
    return record


@njit(**INLINE)
def mode_decay(losses, gamma2, kappa, beta2):
    """`synth.physics.losses.mode_decay` compiled: the string's own part and the bridge's."""
    return string_decay(losses, gamma2, kappa, beta2) + bridge_decay(losses, gamma2, kappa,
                                                                     beta2)


@njit(**INLINE)
def wavenumber2(m):
    """beta^2 = (m pi)^2 of mode number m >= 1."""
    return (m * math.pi) ** 2


@njit(**INLINE)
def pulse_shape(shape):
    """The force pulse a kind without a hammer or a held pluck plays for the record's shape:
    a HAMMER as a STRIKE, a HELD_PLUCK as a PLUCK, PLUCK and STRIKE as they are."""
    if shape == HAMMER:
        return STRIKE
    return PLUCK if shape == HELD_PLUCK else shape


@njit(**INLINE)
def excitation_force(elapsed, amplitude, length, shape):
    """Force at the midpoint of the step that starts `elapsed` steps after the onset.

    length: excitation duration in steps (T_e fs, or a HELD_PLUCK's T_r fs); shape: PLUCK,
    STRIKE or HELD_PLUCK. A pulse is zero before the onset (negative `elapsed`), after it
    ends, and for length <= 0; a HELD_PLUCK holds `amplitude` until its onset and lets go
    over its length.
    """
    t = (elapsed + 0.5) / length if length > 0.0 else 2.0
    if shape == HELD_PLUCK:
        if t <= 0.0:
            return amplitude
        return 0.5 * amplitude * (1.0 + math.cos(math.pi * t)) if t < 1.0 else 0.0
    if t < 0.0 or t > 1.0:
        return 0.0
    return 0.5 * amplitude * (1.0 - math.cos(shape * math.pi * t))
