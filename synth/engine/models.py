"""The engine's interface to model families: what a voice needs from its model.

The block processor (`synth.engine.block`) knows voices, events and mixing; everything that
depends on how a string is modelled goes through these functions, which dispatch on the
state's model family: the SAV string (`synth.kernels.lanes`, `sav_voice`) or an oscillator
bank (Koopman, SSM: `synth.kernels.bank`). A new family adds its kernels and a branch here,
and the engine itself does not change. Every function works on lane v of an `EngineState` and
allocates nothing.
"""

import numpy as np
from numba import njit

from synth.bank import I_FS, INFO, KOOPMAN
from synth.engine.state import (
    CAPACITY,
    FAMILY,
    FAMILY_SAV,
    GAMMA2,
    GAMMA_REF,
    KIND,
    LAMBDA0_,
    PSI_REST,
    RAMPING,
    K,
)
from synth.kernels import bank, lanes, sav_voice
from synth.kernels.potentials import GRADNET, KERNEL


@njit(**KERNEL)
def reset_voice(st, v):
    """Bring lane v to rest and clear its excitation."""
    sav_voice.reset(v, st.q, st.p, st.coef, st.ramp, st.per_lane, st.exc,
                    st.constants[PSI_REST])
    if st.config[FAMILY] != FAMILY_SAV:
        bank.reset(v, st.config[FAMILY], st.bank, st.net, st.exc)


@njit(**KERNEL)
def settle_voice(st, v):
    """Zero a lane whose sound has died away (keeps denormals out of held voices)."""
    if st.config[FAMILY] != FAMILY_SAV:
        bank.settle(v, st.bank, st.net)
        return
    sav_voice.settle(v, st.q, st.p, st.per_lane, st.constants[PSI_REST])


@njit(**KERNEL)
def retune_voice(st, v, gamma2, kappa, sigma0, sigma1, nu2, pickup, n_ramp):
    """Give lane v this string (normalised units), at once or ramped over n_ramp steps (an
    oscillator bank: at once; its state is continuous across the change)."""
    if st.config[FAMILY] != FAMILY_SAV:
        bank.retune(v, st.bank, st.net, st.coef, gamma2, kappa, sigma0, sigma1, pickup,
                    st.constants[K])
        return
    sav_voice.retune(v, gamma2, kappa, sigma0, sigma1, nu2, pickup, st.constants[K], st.q,
                     st.p, st.coef, st.ramp, st.per_lane, n_ramp)


@njit(**KERNEL)
def excite_voice(st, v, amplitude, length, shape, position):
    """Start a pluck or strike on lane v at the current sample. An oscillator bank plays
    its trained string's response to the same pluck (the force without the engine's per-note
    scaling), transposed: an SSM's force pulse is shortened by the pitch ratio, as the rest
    of its response is."""
    family = st.config[FAMILY]
    if family != FAMILY_SAV:
        reference = amplitude * st.constants[GAMMA_REF] / np.sqrt(st.voice_f[GAMMA2, v])
        k = st.constants[K]
        if family == KOOPMAN:
            bank.excite_koopman(v, st.bank, st.net, st.coef, reference, length * k, position)
        else:
            pitch = st.bank[bank.LANE, bank.TAU, v] / (st.net[INFO][0, I_FS] * k)
            pulse = length / pitch
            if pulse < 1.0:  # a very high note: one sample, with the same impulse
                reference *= pulse
                pulse = 1.0
            bank.excite_ssm(v, st.bank, st.net, st.coef, st.exc, reference, pulse, shape,
                            position)
        return
    sav_voice.excite(v, amplitude, length, shape, position, st.coef, st.exc)


@njit(**KERNEL)
def advance(st, n_steps, n_lanes):
    """Advance lanes [0, n_lanes) by n_steps, writing their outputs to st.lane_out.

    Lane loops run fastest over whole vectors, so more than PER_VOICE_LANES lanes are
    rounded up to a multiple of the vector width (idle lanes sit at rest and output zero);
    the GradNet, evaluated voice by voice, is not.
    """
    if st.config[FAMILY] != FAMILY_SAV:
        bank.advance(st.config[FAMILY], n_steps, _vector_lanes(st, n_lanes), st.bank, st.net,
                     st.coef, st.exc, st.lane_out)
        return
    dt = st.q.dtype.type
    kind = st.config[KIND]
    if kind != GRADNET:
        n_lanes = _vector_lanes(st, n_lanes)
    lanes.lanes_advance(kind, n_steps, n_lanes, st.q, st.p, st.coef, st.ramp,
                        st.config[RAMPING] != 0, st.per_lane, st.exc, dt(st.constants[K]),
                        dt(st.constants[LAMBDA0_]), st.tables, st.scratch, st.hidden,
                        st.column, st.grad, st.acc, st.lane_out)


@njit(**KERNEL)
def _vector_lanes(st, n_lanes):
    """More than PER_VOICE_LANES lanes rounded up to whole vectors (idle lanes output 0)."""
    if n_lanes <= lanes.PER_VOICE_LANES:
        return n_lanes
    width = 64 // st.q.itemsize  # float32: 16 lanes per AVX-512 vector
    return min(-(-n_lanes // width) * width, st.config[CAPACITY])


@njit(**KERNEL)
def end_ramps(st, n_lanes):
    """Stop the coefficient ramps of lanes [0, n_lanes) at the end of a block."""
    dt = st.ramp.dtype.type
    for row in range(st.ramp.shape[0]):
        for m in range(st.ramp.shape[1]):
            for v in range(n_lanes):
                st.ramp[row, m, v] = dt(0.0)
    for v in range(n_lanes):
        st.per_lane[lanes.D_NU2, v] = dt(0.0)


@njit(**KERNEL)
def voice_is_finite(st, v):
    if st.config[FAMILY] != FAMILY_SAV:
        return np.isfinite(st.bank[bank.X_RE, 0, v]) and np.isfinite(st.bank[bank.X_IM, 0, v])
    return np.isfinite(st.per_lane[lanes.PSI, v])


@njit(**KERNEL)
def publish_modes(st, v, energies):
    """Write lane v's energy per mode into `energies` and return (q_1, p_1 / omega_1,
    omega_1): the first mode's phase, from which a viewer reads the pitch and its glide."""
    q1, p1, omega1 = 0.0, 0.0, 0.0
    if st.config[FAMILY] != FAMILY_SAV:
        re, im, omega1 = bank.modal_amplitudes(v, st.bank, st.net, st.constants[K], energies)
        return re, -im, omega1  # a = q - i p / omega
    for m in range(st.q.shape[0]):
        gain = st.coef[lanes.GAIN, m, v]
        omega2 = st.coef[lanes.STIFF, m, v] / gain if gain != 0.0 else 0.0
        q, p = st.q[m, v], st.p[m, v]
        energies[m] = 0.5 * (p * p + omega2 * q * q)
        if m == 0:
            omega1 = np.sqrt(omega2)
            q1, p1 = q, p / omega1 if omega1 > 0.0 else 0.0
    return q1, p1, omega1
