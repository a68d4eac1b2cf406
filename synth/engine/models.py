"""The engine's interface to model families: what a voice needs from its model.

The block processor (`synth.engine.block`) knows voices, events and mixing; everything that
depends on how a string is modelled goes through these functions, which dispatch on the
state's model family. A new family (Koopman, SSM) adds its kernels and a branch here, and the
engine itself does not change. Every function works on lane v of an `EngineState` and
allocates nothing.
"""

import numpy as np
from numba import njit

from synth.engine.state import CAPACITY, FAMILY, KIND, LAMBDA0_, PSI_REST, RAMPING, K
from synth.kernels import lanes, sav_voice
from synth.kernels.potentials import GRADNET, KERNEL


@njit(**KERNEL)
def reset_voice(st, v):
    """Bring lane v to rest and clear its excitation."""
    sav_voice.reset(v, st.q, st.p, st.coef, st.ramp, st.per_lane, st.exc,
                    st.constants[PSI_REST])


@njit(**KERNEL)
def settle_voice(st, v):
    """Zero a lane whose sound has died away (keeps denormals out of held voices)."""
    sav_voice.settle(v, st.q, st.p, st.per_lane, st.constants[PSI_REST])


@njit(**KERNEL)
def retune_voice(st, v, gamma2, kappa, sigma0, sigma1, nu2, pickup, n_ramp):
    """Give lane v this string (normalised units), at once or ramped over n_ramp steps."""
    sav_voice.retune(v, gamma2, kappa, sigma0, sigma1, nu2, pickup, st.constants[K], st.q,
                     st.p, st.coef, st.ramp, st.per_lane, n_ramp)


@njit(**KERNEL)
def excite_voice(st, v, amplitude, length, shape, position):
    """Start a pluck or strike on lane v at the current sample."""
    sav_voice.excite(v, amplitude, length, shape, position, st.coef, st.exc)


@njit(**KERNEL)
def advance(st, n_steps, n_lanes):
    """Advance lanes [0, n_lanes) by n_steps, writing their outputs to st.lane_out.

    Lane loops run fastest over whole vectors, so more than PER_VOICE_LANES lanes are
    rounded up to a multiple of the vector width (idle lanes sit at rest and output zero);
    the GradNet, evaluated voice by voice, is not.
    """
    dt = st.q.dtype.type
    kind = st.config[KIND]
    if kind != GRADNET and n_lanes > lanes.PER_VOICE_LANES:
        width = 64 // st.q.itemsize  # float32: 16 lanes per AVX-512 vector
        n_lanes = min(-(-n_lanes // width) * width, st.config[CAPACITY])
    lanes.lanes_advance(kind, n_steps, n_lanes, st.q, st.p, st.coef, st.ramp,
                        st.config[RAMPING] != 0, st.per_lane, st.exc, dt(st.constants[K]),
                        dt(st.constants[LAMBDA0_]), st.tables, st.scratch, st.hidden,
                        st.column, st.grad, st.acc, st.lane_out)


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
    return np.isfinite(st.per_lane[lanes.PSI, v])


@njit(**KERNEL)
def publish_modes(st, v, energies):
    """Write lane v's energy per mode into `energies` and return (q_1, p_1 / omega_1,
    omega_1): the first mode's phase, from which a viewer reads the pitch and its glide."""
    q1, p1, omega1 = 0.0, 0.0, 0.0
    if st.config[FAMILY] == 0:
        for m in range(st.q.shape[0]):
            gain = st.coef[lanes.GAIN, m, v]
            omega2 = st.coef[lanes.STIFF, m, v] / gain if gain != 0.0 else 0.0
            q, p = st.q[m, v], st.p[m, v]
            energies[m] = 0.5 * (p * p + omega2 * q * q)
            if m == 0:
                omega1 = np.sqrt(omega2)
                q1, p1 = q, p / omega1 if omega1 > 0.0 else 0.0
    return q1, p1, omega1
