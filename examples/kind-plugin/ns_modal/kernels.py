"""The voices of the `learned-modal` kind, as Numba kernels (no torch here: the player runs
without it).

A voice is M damped complex oscillators, one per mode of the string. Mode m's frequency and
decay rate are the voice's linear string's, omega_d,m = sqrt(omega_m^2 - sigma_m^2) and
sigma_m (tension, stiffness, decay and brightness are live, as for every kind), times learned
factors exp(a_m) and exp(b_m); the force drives it through a learned complex gain g_m:

    x_m <- lambda_m x_m + g_m Phi_m(x_e) (k / omega_m) f,    w = sum_m r_m Re(x_m)

with lambda_m = exp(k (-sigma_m + i omega_m)), k the time step and f the force at the step's
midpoint (`synth.kernels.formulas.excitation_force`), and r_m = `formulas.readout`: Phi_m(x_o)
at a pickup x_o, or the mode's force on the bridge. With a = b = 0 and g = -i this is the
linear string exactly: its modes driven by the pluck. Nothing here allocates.

Arrays of `ModalVoices` (C lanes, the last axis): state (STATE_ROWS, M, C) in the kernel float
type; learned (LEARNED_ROWS, M) float64: a, b, Re g, Im g; exc (EXC_ROWS, C) float64, the
force pulse; lane (LANE_ROWS, C) float64; constants (1,) float64: k (s).
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from synth.kernels.formulas import (
    AMP,
    E_AMPLITUDE,
    E_LENGTH,
    E_POSITION,
    E_SHAPE,
    ELAPSED,
    LEN,
    SHAPE,
    excitation_force,
    mode_decay,
    mode_shape,
    pulse_shape,
    readout,
    squared_frequency,
    wavenumber2,
)
from synth.kernels.linear import NYQUIST_FRACTION
from synth.kernels.options import KERNEL

X_RE, X_IM, L_RE, L_IM, B_RE, B_IM, PICKUP = range(7)  # state rows
STATE_ROWS = 7
LOG_FREQUENCY, LOG_DECAY, GAIN_RE, GAIN_IM = range(4)  # learned rows
LEARNED_ROWS = 4
OMEGA1, FORCE = 0, 1  # lane rows: first mode's angular frequency (rad/s); this step's force
LANE_ROWS = 2
K = 0  # constants


class ModalVoices(NamedTuple):
    """The lanes of a `learned-modal` preset (module docstring)."""

    state: np.ndarray
    learned: np.ndarray
    exc: np.ndarray
    lane: np.ndarray
    constants: np.ndarray


@njit(**KERNEL)
def reset(voices, v):
    """Lane v silent, its excitation cleared."""
    dt = voices.state.dtype.type
    for row in (X_RE, X_IM, B_RE, B_IM):
        for m in range(voices.state.shape[1]):
            voices.state[row, m, v] = dt(0.0)
    for row in range(voices.exc.shape[0]):
        voices.exc[row, v] = 0.0


@njit(**KERNEL)
def settle(voices, v):
    """Lane v exactly at rest (its sound has died away)."""
    dt = voices.state.dtype.type
    for m in range(voices.state.shape[1]):
        voices.state[X_RE, m, v] = dt(0.0)
        voices.state[X_IM, m, v] = dt(0.0)


@njit(**KERNEL)
def retune(voices, v, gamma2, kappa, losses, nu2, pickup, n_ramp):
    """Lane v plays this string (its modes decaying as the loss record `losses` says), at
    once (the oscillators' state carries over; nu2, the nonlinearity, plays no part in a
    linear model)."""
    state, learned = voices.state, voices.learned
    dt = state.dtype.type
    k = voices.constants[K]
    for m in range(state.shape[1]):
        beta2 = wavenumber2(m + 1)
        sigma = mode_decay(losses, gamma2, kappa, beta2)  # the linear string's mode
        damped = math.sqrt(max(squared_frequency(gamma2, kappa, beta2) - sigma * sigma, 1e-12))
        omega = damped * math.exp(learned[LOG_FREQUENCY, m])
        sigma *= math.exp(learned[LOG_DECAY, m])
        magnitude = math.exp(-sigma * k)
        if omega * k > 2.0 * math.pi * NYQUIST_FRACTION:  # above 0.45 fs: silent
            magnitude = 0.0
        state[L_RE, m, v] = dt(magnitude * math.cos(omega * k))
        state[L_IM, m, v] = dt(magnitude * math.sin(omega * k))
        state[PICKUP, m, v] = dt(readout(m + 1, pickup, gamma2, kappa))
        if m == 0:
            voices.lane[OMEGA1, v] = omega


@njit(**KERNEL)
def excite(voices, v, excitation):
    """A pluck or strike on lane v now, the record's (`formulas.E_AMPLITUDE` ...): the force
    as it is (the note scale is for models of one trained string), E_LENGTH samples long,
    at E_POSITION; this linear string has no hammer and cannot hold itself, so a HAMMER
    plays as a STRIKE and a HELD_PLUCK as a PLUCK (`formulas.pulse_shape`)."""
    position = excitation[E_POSITION]
    state, learned = voices.state, voices.learned
    dt = state.dtype.type
    k = voices.constants[K]
    for m in range(state.shape[1]):
        angle = math.atan2(state[L_IM, m, v], state[L_RE, m, v])  # omega k
        drive = 0.0
        if angle > 0.0:  # not a silenced mode
            drive = mode_shape(m + 1, position) * k * k / angle  # Phi_e k / omega
        state[B_RE, m, v] = dt(learned[GAIN_RE, m] * drive)
        state[B_IM, m, v] = dt(learned[GAIN_IM, m] * drive)
    voices.exc[ELAPSED, v] = 0.0
    voices.exc[AMP, v] = excitation[E_AMPLITUDE]
    voices.exc[LEN, v] = excitation[E_LENGTH]
    voices.exc[SHAPE, v] = pulse_shape(excitation[E_SHAPE])


@njit(**KERNEL)
def advance(voices, n_steps, n_lanes, ramping, out):
    """Advance lanes [0, n_lanes) by n_steps, writing w (what each is heard as) to
    out[:n_steps, :n_lanes] (retuning is immediate, so `ramping` changes nothing)."""
    state, exc, force = voices.state, voices.exc, voices.lane[FORCE]
    dt = state.dtype.type
    x_re, x_im, l_re, l_im = state[X_RE], state[X_IM], state[L_RE], state[L_IM]
    b_re, b_im, pickup = state[B_RE], state[B_IM], state[PICKUP]
    for i in range(n_steps):
        for v in range(n_lanes):
            force[v] = excitation_force(exc[ELAPSED, v], exc[AMP, v], exc[LEN, v],
                                        exc[SHAPE, v])
            exc[ELAPSED, v] += 1.0
            out[i, v] = dt(0.0)
        for m in range(state.shape[1]):
            for v in range(n_lanes):
                a, b = x_re[m, v], x_im[m, v]
                f = dt(force[v])
                re = l_re[m, v] * a - l_im[m, v] * b + b_re[m, v] * f
                im = l_re[m, v] * b + l_im[m, v] * a + b_im[m, v] * f
                x_re[m, v] = re
                x_im[m, v] = im
                out[i, v] += pickup[m, v] * re


@njit(**KERNEL)
def end_ramps(voices, n_lanes):
    """Nothing to stop: retuning is immediate."""


@njit(**KERNEL)
def is_finite(voices, v):
    """Whether lane v's first oscillator is finite (a blow-up reaches every output)."""
    return np.isfinite(voices.state[X_RE, 0, v]) and np.isfinite(voices.state[X_IM, 0, v])


@njit(**KERNEL)
def publish_modes(voices, v, energies):
    """Lane v's energy per mode, 0.5 (omega_m |x_m|)^2, into energies; returns (Re x_1,
    -Im x_1, omega_1): q_1, p_1 / omega_1 and omega_1 for x = q - i p / omega."""
    state = voices.state
    k = voices.constants[K]
    for m in range(state.shape[1]):
        omega = math.atan2(state[L_IM, m, v], state[L_RE, m, v]) / k
        re, im = float(state[X_RE, m, v]), float(state[X_IM, m, v])
        energies[m] = 0.5 * omega * omega * (re * re + im * im)
    return float(state[X_RE, 0, v]), -float(state[X_IM, 0, v]), voices.lane[OMEGA1, v]


@njit(**KERNEL)
def record(voices, n_steps, q_out, w_out):
    """Advance lane 0 by n_steps one at a time, writing q_m = Re x_m to q_out (n, M) and the
    output to w_out (n, 1): the offline run the evaluation and the parity test use."""
    for n in range(n_steps):
        advance(voices, 1, 1, False, w_out[n:n + 1])
        for m in range(voices.state.shape[1]):
            q_out[n, m] = voices.state[X_RE, m, 0]
