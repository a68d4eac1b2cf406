"""The instrument body: a bank of damped modes driven by the force of the strings on the
bridge, heard at several microphones.

Mode k has frequency f_k (Hz) and decay rate sigma_k (1/s; T60 = 3 ln 10 / sigma_k). A unit
force impulse gives it the velocity (unit modal mass)

    h_k(t) = exp(-sigma_k t) (cos(w_k t) - (sigma_k / w_k) sin(w_k t)),   w_k = 2 pi f_k,

and microphone c hears y_c = sum_k g_kc v_k, v_k = (h_k * F) the mode's velocity (sound
radiates with the velocity of the plate). Each mode is discretised by impulse invariance,
v_k[n] = T sum_m h_k(m T) F[n - m] (T = 1 / fs), which is exactly the two-pole, two-zero
recursion

    v[n] = a1 v[n-1] + a2 v[n-2] + b0 F[n] + b1 F[n-1],
    r = exp(-sigma T), theta = w T, a1 = 2 r cos(theta), a2 = -r^2,
    b0 = T, b1 = -T r (cos(theta) + (sigma / w) sin(theta)),

so its impulse response is the continuous one sampled, to rounding (tests/test_body.py), and
the bank is stable for any sigma > 0. Modes above 0.45 fs are silenced, as the string's are.
One bank serves all the voices of an instrument: its cost is per sample and mode, whatever
the voice count. `models.body.BodyTwin` is the torch twin, for fitting the modes to
recordings.
"""

import math

import numpy as np
from numba import njit

from synth.errors import ParameterError
from synth.kernels.linear import NYQUIST_FRACTION
from synth.kernels.options import KERNEL

A1, A2, B0, B1 = range(4)  # columns of the coefficients
V1, V2, F1 = range(3)  # columns of the state: v[n-1], v[n-2], F[n-1]


def body_coefficients(frequencies: np.ndarray, decays: np.ndarray, fs: float) -> np.ndarray:
    """(K, 4) float64 recursion coefficients (a1, a2, b0, b1) of modes at `frequencies` Hz
    with decay rates `decays` 1/s, at fs Hz (a mode above 0.45 fs is silent: zeros);
    ParameterError for a frequency or decay rate that is not positive and finite."""
    frequencies = np.asarray(frequencies, dtype=np.float64)
    decays = np.asarray(decays, dtype=np.float64)
    if frequencies.shape != decays.shape or frequencies.ndim != 1:
        raise ParameterError("body modes need one decay rate per frequency")
    if not (np.all(np.isfinite(frequencies)) and np.all(frequencies > 0)):
        raise ParameterError("body mode frequencies must be positive and finite")
    if not (np.all(np.isfinite(decays)) and np.all(decays > 0)):
        raise ParameterError("body mode decay rates must be positive")
    coefficients = np.empty((len(frequencies), 4))
    set_coefficients(np.stack([frequencies, decays], axis=1), 1.0, 1.0, fs, coefficients,
                     np.zeros((len(frequencies), 3)))
    return coefficients


def impulse_responses(frequencies: np.ndarray, decays: np.ndarray, fs: float,
                      length: int) -> np.ndarray:
    """(K, length) T h_k(n T), n = 0..length-1: each mode's velocity after a unit force
    impulse, sampled (the closed form the recursion reproduces; T = 1 / fs)."""
    t = np.arange(length) / fs
    omega = 2 * np.pi * np.asarray(frequencies, dtype=np.float64)[:, None]
    sigma = np.asarray(decays, dtype=np.float64)[:, None]
    return np.exp(-sigma * t) * (np.cos(omega * t) - sigma / omega * np.sin(omega * t)) / fs


@njit(**KERNEL)
def set_coefficients(modes, size, damping, fs, coefficients, state):
    """Fill coefficients (K, 4) for modes (K, 2) of (frequency Hz, decay rate 1/s) on a body
    `size` times as large (frequencies / size) and `damping` times as damped (decay rates x
    damping), at fs Hz. A mode that lands above 0.45 fs is silenced: its coefficients and its
    state (K, 3) are zeroed. No allocation."""
    period = 1.0 / fs
    for k in range(modes.shape[0]):
        frequency = modes[k, 0] / size
        decay = modes[k, 1] * damping
        if frequency >= NYQUIST_FRACTION * fs:
            for column in range(4):
                coefficients[k, column] = 0.0
            for column in range(3):
                state[k, column] = 0.0
            continue
        omega = 2.0 * math.pi * frequency
        r = math.exp(-decay * period)
        theta = omega * period
        coefficients[k, A1] = 2.0 * r * math.cos(theta)
        coefficients[k, A2] = -r * r
        coefficients[k, B0] = period
        coefficients[k, B1] = -period * r * (math.cos(theta) + decay / omega * math.sin(theta))


@njit(**KERNEL)
def body_block(force, coefficients, gains, state, out):
    """Drive the bank with force (N,) and add what the microphones hear to out (N, C);
    coefficients (K, 4) from `body_coefficients`, gains (K, C), state (K, 3) float64 carried
    from block to block (zeros at rest). No allocation."""
    modes = coefficients.shape[0]
    channels = gains.shape[1]
    for n in range(force.shape[0]):
        f = force[n]
        for k in range(modes):
            v = (coefficients[k, A1] * state[k, V1] + coefficients[k, A2] * state[k, V2]
                 + coefficients[k, B0] * f + coefficients[k, B1] * state[k, F1])
            state[k, V2] = state[k, V1]
            state[k, V1] = v
            state[k, F1] = f
            for c in range(channels):
                out[n, c] += gains[k, c] * v


@njit(**KERNEL)
def settle_body(state):
    """Set each mode exactly to rest once it has died away (below 1e-30: a decaying two-pole
    recursion would otherwise sit among the denormal floats, which are slow)."""
    for k in range(state.shape[0]):
        if abs(state[k, V1]) < 1e-30 and abs(state[k, V2]) < 1e-30 \
                and abs(state[k, F1]) < 1e-30:
            state[k, V1] = state[k, V2] = state[k, F1] = 0.0
