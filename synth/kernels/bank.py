"""The oscillator-bank voices (`koopman` and `ssm` kinds): their arrays, and the kernels
through which the engine plays them (`synth.kinds.VoiceKernels`).

Each voice (lane v, the last axis) is D = M K damped complex oscillators, M modes x K copies,
index d = m K + j, trained in `models.koopman` and `models.ssm`. Per sample

    x_d <- lambda_d x_d (+ B_d u for an SSM during its excitation pulse),   w = sum_d Re(O_d x_d)

with O_d = c_d Phi_m(x_o) the readout times the pickup shape, so a sample costs one complex
multiply-add and one real dot product per oscillator, vectorised over lanes as the SAV lanes
are. Set-up per voice:

- `retune`: the learned eigenvalues, scaled to this voice's string. Phase by the ratio of the
  voice's linear damped mode frequency to the trained string's (tension, pitch, stiffness),
  log-magnitude by the ratio of decay rates (decay, brightness, the damper on release), both
  by the ratio of the training rate to the engine's. An approximation: a note plays the
  trained string's response to the same pluck transposed, so its pitch glide scales with its
  pitch (a physical string's would not exactly), and the nonlinearity control does nothing.
  An oscillator tuned above 0.45 fs gets lambda = 0 (silent), as the SAV lanes drop such modes.
- Koopman `excite`: the encoder turns amplitude, width and position into the initial latent,
  added to the voice's (a re-pluck adds to what rings).
- SSM excitation: for the samples of the force pulse the hold layer integrates the input and
  the input drives the oscillators; every GATE_STRIDE-th sample the gate MLP gives the
  readout c, until it has seen the whole pulse; then c stays fixed.

Arrays of `BankVoices`: bank (BANK_ROWS, W, C) in the kernel float type (rows below;
W >= D and >= 2 M); net, the `BankNet` float64 tables; shapes (2, M, C): Phi_m(x_e) and
Phi_m(x_o) per lane; exc (EXC_ROWS, C) float64, the force pulse (`formulas.ELAPSED` ...);
constants (1,) float64: the time step k (s). Nothing here allocates.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from synth.kernels.aligned import whole_vectors
from synth.kernels.dispatch import class_test
from synth.kernels.formulas import (
    AMP,
    E_AMPLITUDE,
    E_LENGTH,
    E_NOTE_SCALE,
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
from synth.kernels.options import INLINE, INTERNAL, KERNEL

GATE_STRIDE = 8  # ssm: samples between evaluations of the gate (held in between)
ALIAS_ANGLE = 2.0 * math.pi * NYQUIST_FRACTION  # rad per sample
INV_SQRT2 = 1.0 / math.sqrt(2.0)
# bank rows
X_RE, X_IM, L_RE, L_IM, O_RE, O_IM, C_RE, C_IM, B_RE, B_IM, HOLD, LANE = range(12)
BANK_ROWS = 12
# LANE row columns: time dilation (training steps per engine step), input this sample,
# first mode's damped angular frequency (rad/s)
TAU, INPUT, OMEGA1 = 0, 1, 2
LANE_COLUMNS = 3
DRIVE, PICKUP = 0, 1  # rows of `shapes`
K = 0  # the constants row
# INFO columns
I_FS, I_AMPLITUDE, I_WIDTH, I_WIDTH_LO, I_WIDTH_HI, I_COPIES, I_RANK, I_HIDDEN = range(8)
INFO_SIZE = 8
WORK_ROWS = 3  # MLP activations: two hidden layers and the output


class BankNet(NamedTuple):
    """A preset's learned tables, float64 2-D (placeholders (1, 1) where a kind has none):
    the three-layer MLP (the Koopman encoder or the SSM gate: weights (out, in), biases
    (1, out)); the eigenvalues' log-magnitude and phase per sample at the training rate
    (M, K); the SSM input gains (M, K) and readouts (R + 1, D); the trained string's damped
    angular frequencies and decay rates (2, M); INFO (1, INFO_SIZE); WORK (WORK_ROWS, >= H,
    2 D, R) scratch."""

    w0: np.ndarray
    b0: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    log_magnitude: np.ndarray
    phase: np.ndarray
    input_re: np.ndarray
    input_im: np.ndarray
    readout_re: np.ndarray
    readout_im: np.ndarray
    reference: np.ndarray
    info: np.ndarray
    work: np.ndarray


class KoopmanVoices(NamedTuple):
    """The lanes of a `koopman` preset (module docstring)."""

    bank: np.ndarray
    net: BankNet
    shapes: np.ndarray
    exc: np.ndarray
    constants: np.ndarray


class SsmVoices(NamedTuple):
    """The lanes of an `ssm` preset (module docstring)."""

    bank: np.ndarray
    net: BankNet
    shapes: np.ndarray
    exc: np.ndarray
    constants: np.ndarray


_is_ssm = class_test(SsmVoices)


@njit(**KERNEL)
def reset(voices, v):
    """Silence lane v: zero oscillators, hold layer and excitation; readout at rest."""
    bank, net = voices.bank, voices.net
    dt = bank.dtype.type
    for row in (X_RE, X_IM, B_RE, B_IM, HOLD, O_RE, O_IM):
        for d in range(bank.shape[1]):
            bank[row, d, v] = dt(0.0)
    bank[LANE, INPUT, v] = dt(0.0)
    for d in range(net.log_magnitude.size):
        if _is_ssm(voices):
            bank[C_RE, d, v] = dt(net.readout_re[0, d])
            bank[C_IM, d, v] = dt(net.readout_im[0, d])
        else:
            bank[C_RE, d, v], bank[C_IM, d, v] = dt(1.0), dt(0.0)
    for row in range(voices.exc.shape[0]):
        voices.exc[row, v] = 0.0


@njit(**KERNEL)
def settle(voices, v):
    """Bring a lane whose sound has died away exactly to rest (no denormals)."""
    dt = voices.bank.dtype.type
    for d in range(voices.net.log_magnitude.size):
        voices.bank[X_RE, d, v] = dt(0.0)
        voices.bank[X_IM, d, v] = dt(0.0)


@njit(**INTERNAL)
def _readout_times_pickup(voices, v):
    bank = voices.bank
    n_modes, copies = voices.net.log_magnitude.shape
    for m in range(n_modes):
        shape = voices.shapes[PICKUP, m, v]
        for j in range(copies):
            d = m * copies + j
            bank[O_RE, d, v] = bank[C_RE, d, v] * shape
            bank[O_IM, d, v] = bank[C_IM, d, v] * shape


@njit(**KERNEL)
def retune(voices, v, gamma2, kappa, losses, nu2, pickup, n_ramp):
    """Give lane v this string (normalised units; its modes decaying as the loss record
    `losses` says), heard at `pickup` (a position, or
    `formulas.BRIDGE`: the force on the bridge), at once (its state is continuous across the
    change, so a bank needs no ramp; nu2 plays no part)."""
    bank, net = voices.bank, voices.net
    dt = bank.dtype.type
    log_magnitude, phase, reference = net.log_magnitude, net.phase, net.reference
    n_modes, copies = log_magnitude.shape
    rate = net.info[0, I_FS] * voices.constants[K]  # training steps per engine step
    for m in range(n_modes):
        beta2 = wavenumber2(m + 1)
        sigma = mode_decay(losses, gamma2, kappa, beta2)
        omega_d = math.sqrt(max(squared_frequency(gamma2, kappa, beta2) - sigma * sigma,
                                1e-12))
        pitch = omega_d / reference[0, m] * rate
        damping = sigma / reference[1, m] * rate
        if m == 0:
            bank[LANE, TAU, v] = dt(pitch)
            bank[LANE, OMEGA1, v] = dt(omega_d)
        voices.shapes[PICKUP, m, v] = dt(readout(m + 1, pickup, gamma2, kappa))
        for j in range(copies):
            d = m * copies + j
            magnitude = math.exp(log_magnitude[m, j] * damping)
            angle = phase[m, j] * pitch
            if abs(angle) > ALIAS_ANGLE:  # above 0.45 fs: silenced, as the SAV lanes drop it
                magnitude = 0.0
            bank[L_RE, d, v] = dt(magnitude * math.cos(angle))
            bank[L_IM, d, v] = dt(magnitude * math.sin(angle))
    _readout_times_pickup(voices, v)


@njit(**INLINE)
def _gelu(x):
    return 0.5 * x * (1.0 + math.erf(x * INV_SQRT2))


@njit(**INTERNAL)
def _mlp(net, n_in, inputs):
    """The three-layer MLP of the net tables on inputs[:n_in]; the output is net.work[2]."""
    work = net.work
    hidden = net.w0.shape[0]
    for i in range(hidden):
        total = net.b0[0, i]
        for j in range(n_in):
            total += net.w0[i, j] * inputs[j]
        work[0, i] = _gelu(total)
    for i in range(hidden):
        total = net.b1[0, i]
        for j in range(hidden):
            total += net.w1[i, j] * work[0, j]
        work[1, i] = _gelu(total)
    for i in range(net.w2.shape[0]):
        total = net.b2[0, i]
        for j in range(hidden):
            total += net.w2[i, j] * work[1, j]
        work[2, i] = total


@njit(**KERNEL)
def excite_koopman(voices, v, excitation):
    """Add the encoder's initial latent for the record's pulse (`formulas.E_AMPLITUDE` ...):
    the trained string's response to the same pluck (the force without the engine's per-note
    scale), transposed. Its shape is not an input; a hammer plays as its pulse."""
    amplitude, note_scale = excitation[E_AMPLITUDE], excitation[E_NOTE_SCALE]
    length, position = excitation[E_LENGTH], excitation[E_POSITION]
    bank, net = voices.bank, voices.net
    dt = bank.dtype.type
    info, reference = net.info[0], net.reference
    n_modes, copies = net.log_magnitude.shape
    force = amplitude / note_scale
    width = min(max(length * voices.constants[K], info[I_WIDTH_LO]), info[I_WIDTH_HI])
    inputs = (force / info[I_AMPLITUDE], width / info[I_WIDTH], position)
    _mlp(net, 3, inputs)
    out = net.work[2]
    impulse = 0.5 * force * width
    for m in range(n_modes):
        drive = mode_shape(m + 1, position)
        voices.shapes[DRIVE, m, v] = dt(drive)
        prior = drive * impulse / reference[0, m]
        for j in range(copies):
            d = m * copies + j
            z_re, z_im = out[2 * d] * prior, out[2 * d + 1] * prior
            # divided by lambda: the next step brings it to z0, the first sample's latent
            l_re, l_im = float(bank[L_RE, d, v]), float(bank[L_IM, d, v])
            norm = l_re * l_re + l_im * l_im
            if norm == 0.0:  # a silenced (aliasing) oscillator
                continue
            bank[X_RE, d, v] += dt((z_re * l_re + z_im * l_im) / norm)
            bank[X_IM, d, v] += dt((z_im * l_re - z_re * l_im) / norm)


@njit(**KERNEL)
def excite_ssm(voices, v, excitation):
    """Start an SSM force pulse on lane v, the record's (`formulas.E_AMPLITUDE` ...): the
    trained string's pulse (the force without the engine's per-note scale), shortened by the
    pitch ratio as the rest of the response is; B = input gain x Phi_m(x_e) per oscillator.
    A hammer plays as its pulse, a STRIKE."""
    amplitude, note_scale = excitation[E_AMPLITUDE], excitation[E_NOTE_SCALE]
    length, position = excitation[E_LENGTH], excitation[E_POSITION]
    shape = pulse_shape(excitation[E_SHAPE])
    bank, net, exc = voices.bank, voices.net, voices.exc
    dt = bank.dtype.type
    force = amplitude / note_scale
    pitch = bank[LANE, TAU, v] / (net.info[0, I_FS] * voices.constants[K])
    pulse = length / pitch
    if pulse < 1.0:  # a very high note: one sample, with the same impulse
        force *= pulse
        pulse = 1.0
    n_modes, copies = net.log_magnitude.shape
    for m in range(n_modes):
        drive = mode_shape(m + 1, position)
        voices.shapes[DRIVE, m, v] = dt(drive)
        for j in range(copies):
            d = m * copies + j
            bank[B_RE, d, v] = dt(net.input_re[m, j] * drive)
            bank[B_IM, d, v] = dt(net.input_im[m, j] * drive)
    exc[ELAPSED, v] = 0.0
    exc[AMP, v] = force
    exc[LEN, v] = pulse
    exc[SHAPE, v] = shape


@njit(**INLINE)
def _pulse_left(exc, v):
    """Samples lane v still spends in its SSM pulse phase: up to and including the first
    multiple of GATE_STRIDE after the last sample whose force midpoint is in the pulse."""
    length = exc[LEN, v]
    if length < 0.5:
        return 0
    last = math.floor(length - 0.5)
    final = GATE_STRIDE * (last // GATE_STRIDE + 1)
    return max(final - int(exc[ELAPSED, v]) + 1, 0)


@njit(**INTERNAL)
def _pulse_sample(voices, v):
    """One sample of lane v's SSM pulse: hold layer, this sample's input and, every
    GATE_STRIDE-th sample, the gate and the readout."""
    bank, net, exc = voices.bank, voices.net, voices.exc
    dt = bank.dtype.type
    info = net.info[0]
    n_modes, copies = net.log_magnitude.shape
    elapsed = exc[ELAPSED, v]
    force = excitation_force(elapsed, exc[AMP, v], exc[LEN, v], exc[SHAPE, v])
    exc[ELAPSED, v] += 1.0
    tau = float(bank[LANE, TAU, v])
    u = force / info[I_AMPLITUDE]
    step = tau / (info[I_FS] * info[I_WIDTH])  # k / T_s in the trained string's time
    hold = net.work[2]  # the output row doubles as the gate's input here
    for m in range(n_modes):
        um = float(voices.shapes[DRIVE, m, v]) * u
        bank[HOLD, m, v] += dt(step * um)
        bank[HOLD, n_modes + m, v] += dt(step * um * um)
    bank[LANE, INPUT, v] = dt(tau * u)
    if int(elapsed) % GATE_STRIDE != 0:
        return
    for i in range(2 * n_modes):
        hold[i] = bank[HOLD, i, v]
    _mlp(net, 2 * n_modes, hold)
    gates = net.work[2]
    rank = int(info[I_RANK])
    for d in range(n_modes * copies):
        c_re, c_im = net.readout_re[0, d], net.readout_im[0, d]
        for r in range(rank):
            c_re += gates[r] * net.readout_re[r + 1, d]
            c_im += gates[r] * net.readout_im[r + 1, d]
        bank[C_RE, d, v] = dt(c_re)
        bank[C_IM, d, v] = dt(c_im)
    _readout_times_pickup(voices, v)


@njit(**INTERNAL)
def _run(n_steps, n_lanes, n_osc, bank, out, with_input):
    """n_steps samples of lanes [0, n_lanes): x <- lambda x (+ B input), out = sum Re(O x)."""
    dt = bank.dtype.type
    for i in range(n_steps):
        for v in range(n_lanes):
            out[i, v] = dt(0.0)
    x_re, x_im, l_re, l_im = bank[X_RE], bank[X_IM], bank[L_RE], bank[L_IM]
    o_re, o_im, b_re, b_im = bank[O_RE], bank[O_IM], bank[B_RE], bank[B_IM]
    drive = bank[LANE, INPUT]
    for d in range(n_osc):
        for i in range(n_steps):
            for v in range(n_lanes):
                a, b = x_re[d, v], x_im[d, v]
                re = l_re[d, v] * a - l_im[d, v] * b
                im = l_re[d, v] * b + l_im[d, v] * a
                if with_input:
                    re += b_re[d, v] * drive[v]
                    im += b_im[d, v] * drive[v]
                x_re[d, v] = re
                x_im[d, v] = im
                out[i, v] += o_re[d, v] * re - o_im[d, v] * im


@njit(**KERNEL)
def advance_koopman(voices, n_steps, n_lanes, ramping, out):
    """Advance lanes [0, n_lanes) by n_steps; write what each is heard as to
    out[:n_steps, :n_lanes] (a bank's retune is immediate, so `ramping` changes nothing)."""
    n_lanes = whole_vectors(n_lanes, voices.bank)
    _run(n_steps, n_lanes, voices.net.log_magnitude.size, voices.bank, out, False)


@njit(**KERNEL)
def advance_ssm(voices, n_steps, n_lanes, ramping, out):
    """As `advance_koopman`; the pulse samples go one at a time (input and readout change),
    the rest in one run."""
    bank, exc = voices.bank, voices.exc
    n_lanes = whole_vectors(n_lanes, voices.bank)
    n_osc = voices.net.log_magnitude.size
    pulse = 0
    for v in range(n_lanes):
        pulse = max(pulse, _pulse_left(exc, v))
    done = min(pulse, n_steps)
    for i in range(done):
        for v in range(n_lanes):
            if _pulse_left(exc, v) > 0:
                _pulse_sample(voices, v)
            else:
                bank[LANE, INPUT, v] = 0.0
        _run(1, n_lanes, n_osc, bank, out[i:i + 1], True)
    for v in range(n_lanes):
        bank[LANE, INPUT, v] = 0.0
    _run(n_steps - done, n_lanes, n_osc, bank, out[done:], False)


@njit(**KERNEL)
def end_ramps(voices, n_lanes):
    """Nothing to stop: a bank retunes at once."""


@njit(**KERNEL)
def is_finite(voices, v):
    """Whether lane v's first oscillator is finite (a blow-up reaches every output)."""
    return np.isfinite(voices.bank[X_RE, 0, v]) and np.isfinite(voices.bank[X_IM, 0, v])


@njit(**KERNEL)
def publish_modes(voices, v, energies):
    """Write lane v's energy per mode, 0.5 (omega_m |a_m|)^2 with a_m = sum_j c x the mode's
    complex amplitude and omega_m its first copy's frequency, into `energies`; return
    (Re a_1, -Im a_1, omega_1 in rad/s): as q_1, p_1 / omega_1 for a = q - i p / omega."""
    bank = voices.bank
    n_modes, copies = voices.net.log_magnitude.shape
    k = voices.constants[K]
    first_re, first_im = 0.0, 0.0
    for m in range(n_modes):
        a_re, a_im = 0.0, 0.0
        for j in range(copies):
            d = m * copies + j
            x_re, x_im = float(bank[X_RE, d, v]), float(bank[X_IM, d, v])
            a_re += bank[C_RE, d, v] * x_re - bank[C_IM, d, v] * x_im
            a_im += bank[C_RE, d, v] * x_im + bank[C_IM, d, v] * x_re
        omega = math.atan2(bank[L_IM, m * copies, v], bank[L_RE, m * copies, v]) / k
        energies[m] = 0.5 * (omega * omega) * (a_re * a_re + a_im * a_im)
        if m == 0:
            first_re, first_im = a_re, a_im
    return first_re, -first_im, float(bank[LANE, OMEGA1, v])


@njit(**KERNEL)
def record(voices, n_steps, q_out, w_out):
    """Advance lane 0 by n_steps one at a time, writing the modal displacements
    q_m = sum_j Re(c x) to q_out (n, M) and the output to w_out (n, 1): the offline run the
    evaluation and the parity tests use."""
    bank = voices.bank
    n_modes, copies = voices.net.log_magnitude.shape
    ssm = _is_ssm(voices)
    for n in range(n_steps):
        if ssm:
            advance_ssm(voices, 1, 1, False, w_out[n:n + 1])
        else:
            advance_koopman(voices, 1, 1, False, w_out[n:n + 1])
        for m in range(n_modes):
            total = 0.0
            for j in range(copies):
                d = m * copies + j
                total += bank[C_RE, d, 0] * bank[X_RE, d, 0] - bank[C_IM, d, 0] * bank[X_IM, d, 0]
            q_out[n, m] = total
