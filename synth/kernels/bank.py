"""The oscillator-bank voices (Koopman and SSM kinds) for many voices at once.

Each voice (lane v, the last axis) is D = M K complex oscillators (`synth.bank`). Per sample

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

Arrays: bank (BANK_ROWS, W, C) in the kernel float type (rows below; W >= D and >= 2 M);
net: the NET_TABLES float64 tables of `synth.bank`; exc (EXC_ROWS, C) float64 as for the SAV
lanes; coef (COEF_ROWS, M, C), of which the DRIVE and PICKUP rows (Phi_m at x_e and x_o) are
used. Nothing here allocates.
"""

import math

from numba import njit

from synth.bank import (
    B0,
    B1,
    B2,
    GATE_STRIDE,
    I_AMPLITUDE,
    I_FS,
    I_RANK,
    I_WIDTH,
    I_WIDTH_HI,
    I_WIDTH_LO,
    INFO,
    INPUT_IM,
    INPUT_RE,
    LOG_MAGNITUDE,
    PHASE,
    READOUT_IM,
    READOUT_RE,
    REFERENCE,
    SSM,
    W0,
    W1,
    W2,
    WORK,
)
from synth.kernels.lanes import AMP, DRIVE, ELAPSED, LEN, PICKUP, SHAPE
from synth.kernels.linear import NYQUIST_FRACTION
from synth.kernels.potentials import KERNEL
from synth.kernels.sav import excitation_force

SQRT2 = math.sqrt(2.0)
ALIAS_ANGLE = 2.0 * math.pi * NYQUIST_FRACTION  # rad per sample
INV_SQRT2 = 1.0 / SQRT2
# bank rows
X_RE, X_IM, L_RE, L_IM, O_RE, O_IM, C_RE, C_IM, B_RE, B_IM, HOLD, LANE = range(12)
BANK_ROWS = 12
# LANE row columns: time dilation (training steps per engine step), input this sample,
# first mode's damped angular frequency (rad/s)
TAU, INPUT, OMEGA1 = 0, 1, 2
LANE_COLUMNS = 3


@njit(**KERNEL)
def reset(v, family, bank, net, exc):
    """Silence lane v: zero oscillators, hold layer and excitation; readout at rest."""
    dt = bank.dtype.type
    D = net[LOG_MAGNITUDE].size
    for row in (X_RE, X_IM, B_RE, B_IM, HOLD, O_RE, O_IM):
        for d in range(bank.shape[1]):
            bank[row, d, v] = dt(0.0)
    bank[LANE, INPUT, v] = dt(0.0)
    for d in range(D):
        if family == SSM:
            bank[C_RE, d, v] = dt(net[READOUT_RE][0, d])
            bank[C_IM, d, v] = dt(net[READOUT_IM][0, d])
        else:
            bank[C_RE, d, v], bank[C_IM, d, v] = dt(1.0), dt(0.0)
    for row in range(exc.shape[0]):
        exc[row, v] = 0.0


@njit(**KERNEL)
def settle(v, bank, net):
    """Bring a lane whose sound has died away exactly to rest (no denormals)."""
    dt = bank.dtype.type
    for d in range(net[LOG_MAGNITUDE].size):
        bank[X_RE, d, v] = dt(0.0)
        bank[X_IM, d, v] = dt(0.0)


@njit(**KERNEL)
def _readout_times_pickup(v, bank, coef, n_modes, copies):
    for m in range(n_modes):
        shape = coef[PICKUP, m, v]
        for j in range(copies):
            d = m * copies + j
            bank[O_RE, d, v] = bank[C_RE, d, v] * shape
            bank[O_IM, d, v] = bank[C_IM, d, v] * shape


@njit(**KERNEL)
def retune(v, bank, net, coef, gamma2, kappa, sigma0, sigma1, pickup, k):
    """Give lane v this string (normalised units) and pickup position; k: time step (s)."""
    dt = bank.dtype.type
    log_magnitude, phase, reference = net[LOG_MAGNITUDE], net[PHASE], net[REFERENCE]
    n_modes, copies = log_magnitude.shape
    rate = net[INFO][0, I_FS] * k  # training steps per engine step
    for m in range(n_modes):
        beta2 = ((m + 1) * math.pi) ** 2
        omega2 = gamma2 * beta2 + kappa * kappa * beta2 * beta2
        sigma = sigma0 + sigma1 * beta2
        omega_d = math.sqrt(max(omega2 - sigma * sigma, 1e-12))
        pitch = omega_d / reference[0, m] * rate
        damping = sigma / reference[1, m] * rate
        if m == 0:
            bank[LANE, TAU, v] = dt(pitch)
            bank[LANE, OMEGA1, v] = dt(omega_d)
        coef[PICKUP, m, v] = dt(SQRT2 * math.sin((m + 1) * math.pi * pickup))
        for j in range(copies):
            d = m * copies + j
            magnitude = math.exp(log_magnitude[m, j] * damping)
            angle = phase[m, j] * pitch
            if abs(angle) > ALIAS_ANGLE:  # above 0.45 fs: silenced, as the SAV lanes drop it
                magnitude = 0.0
            bank[L_RE, d, v] = dt(magnitude * math.cos(angle))
            bank[L_IM, d, v] = dt(magnitude * math.sin(angle))
    _readout_times_pickup(v, bank, coef, n_modes, copies)


@njit(**KERNEL, inline="always")
def _gelu(x):
    return 0.5 * x * (1.0 + math.erf(x * INV_SQRT2))


@njit(**KERNEL)
def _mlp(net, n_in, inputs):
    """The three-layer MLP of the net tables on inputs[:n_in]; the output is net[WORK][2]."""
    work = net[WORK]
    w0, b0, w1, b1, w2, b2 = net[W0], net[B0], net[W1], net[B1], net[W2], net[B2]
    hidden = w0.shape[0]
    for i in range(hidden):
        total = b0[0, i]
        for j in range(n_in):
            total += w0[i, j] * inputs[j]
        work[0, i] = _gelu(total)
    for i in range(hidden):
        total = b1[0, i]
        for j in range(hidden):
            total += w1[i, j] * work[0, j]
        work[1, i] = _gelu(total)
    for i in range(w2.shape[0]):
        total = b2[0, i]
        for j in range(hidden):
            total += w2[i, j] * work[1, j]
        work[2, i] = total


@njit(**KERNEL)
def excite_koopman(v, bank, net, coef, amplitude, width, position):
    """Add the encoder's initial latent for a pluck of `amplitude` (normalised force, as on
    the trained string), `width` (s, in the trained string's time) at `position` (0..1)."""
    dt = bank.dtype.type
    info, reference = net[INFO][0], net[REFERENCE]
    n_modes, copies = net[LOG_MAGNITUDE].shape
    width = min(max(width, info[I_WIDTH_LO]), info[I_WIDTH_HI])
    inputs = (amplitude / info[I_AMPLITUDE], width / info[I_WIDTH], position)
    _mlp(net, 3, inputs)
    out = net[WORK][2]
    impulse = 0.5 * amplitude * width
    for m in range(n_modes):
        drive = SQRT2 * math.sin((m + 1) * math.pi * position)
        coef[DRIVE, m, v] = dt(drive)
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
def excite_ssm(v, bank, net, coef, exc, amplitude, length, shape, position):
    """Start an SSM force pulse on lane v (as `sav_voice.excite`; amplitude as on the trained
    string): B = input gain x Phi_m(x_e) per oscillator."""
    dt = bank.dtype.type
    n_modes, copies = net[LOG_MAGNITUDE].shape
    for m in range(n_modes):
        drive = SQRT2 * math.sin((m + 1) * math.pi * position)
        coef[DRIVE, m, v] = dt(drive)
        for j in range(copies):
            d = m * copies + j
            bank[B_RE, d, v] = dt(net[INPUT_RE][m, j] * drive)
            bank[B_IM, d, v] = dt(net[INPUT_IM][m, j] * drive)
    exc[ELAPSED, v] = 0.0
    exc[AMP, v] = amplitude
    exc[LEN, v] = length
    exc[SHAPE, v] = shape


@njit(**KERNEL, inline="always")
def _pulse_left(exc, v):
    """Samples lane v still spends in its SSM pulse phase: up to and including the first
    multiple of GATE_STRIDE after the last sample whose force midpoint is in the pulse."""
    length = exc[LEN, v]
    if length < 0.5:
        return 0
    last = math.floor(length - 0.5)
    final = GATE_STRIDE * (last // GATE_STRIDE + 1)
    return max(final - int(exc[ELAPSED, v]) + 1, 0)


@njit(**KERNEL)
def _pulse_sample(v, bank, net, coef, exc):
    """One sample of lane v's SSM pulse: hold layer, this sample's input and, every
    GATE_STRIDE-th sample, the gate and the readout."""
    dt = bank.dtype.type
    info = net[INFO][0]
    n_modes, copies = net[LOG_MAGNITUDE].shape
    elapsed = exc[ELAPSED, v]
    force = excitation_force(elapsed, exc[AMP, v], exc[LEN, v], exc[SHAPE, v])
    exc[ELAPSED, v] += 1.0
    tau = float(bank[LANE, TAU, v])
    u = force / info[I_AMPLITUDE]
    step = tau / (info[I_FS] * info[I_WIDTH])  # k / T_s in the trained string's time
    hold = net[WORK][2]  # the output row doubles as the gate's input here
    for m in range(n_modes):
        um = float(coef[DRIVE, m, v]) * u
        bank[HOLD, m, v] += dt(step * um)
        bank[HOLD, n_modes + m, v] += dt(step * um * um)
    bank[LANE, INPUT, v] = dt(tau * u)
    if int(elapsed) % GATE_STRIDE != 0:
        return
    for i in range(2 * n_modes):
        hold[i] = bank[HOLD, i, v]
    _mlp(net, 2 * n_modes, hold)
    gates = net[WORK][2]
    rank = int(info[I_RANK])
    readout_re, readout_im = net[READOUT_RE], net[READOUT_IM]
    for d in range(n_modes * copies):
        c_re, c_im = readout_re[0, d], readout_im[0, d]
        for r in range(rank):
            c_re += gates[r] * readout_re[r + 1, d]
            c_im += gates[r] * readout_im[r + 1, d]
        bank[C_RE, d, v] = dt(c_re)
        bank[C_IM, d, v] = dt(c_im)
    _readout_times_pickup(v, bank, coef, n_modes, copies)


@njit(**KERNEL)
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
def advance(family, n_steps, n_lanes, bank, net, coef, exc, out):
    """Advance lanes [0, n_lanes) by n_steps; write w to out[:n_steps, :n_lanes]. An SSM's
    pulse samples go one at a time (input and readout change), the rest in one run."""
    n_osc = net[LOG_MAGNITUDE].size
    done = 0
    if family == SSM:
        pulse = 0
        for v in range(n_lanes):
            pulse = max(pulse, _pulse_left(exc, v))
        done = min(pulse, n_steps)
        for i in range(done):
            for v in range(n_lanes):
                if _pulse_left(exc, v) > 0:
                    _pulse_sample(v, bank, net, coef, exc)
                else:
                    bank[LANE, INPUT, v] = 0.0
            _run(1, n_lanes, n_osc, bank, out[i:i + 1], True)
        for v in range(n_lanes):
            bank[LANE, INPUT, v] = 0.0
    _run(n_steps - done, n_lanes, n_osc, bank, out[done:], False)


@njit(**KERNEL)
def modal_amplitudes(v, bank, net, k, energies):
    """Write lane v's energy per mode, 0.5 (omega_m |a_m|)^2 with a_m = sum_j c x the mode's
    complex amplitude and omega_m its first copy's frequency, into `energies`; return
    (Re a_1, Im a_1, omega_1 in rad/s) for the meters. k: time step (s)."""
    n_modes, copies = net[LOG_MAGNITUDE].shape
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
    return first_re, first_im, float(bank[LANE, OMEGA1, v])



@njit(**KERNEL)
def record(family, n_steps, bank, net, coef, exc, q_out, w_out):
    """Advance lane 0 by n_steps one at a time, writing the modal displacements
    q_m = sum_j Re(c x) to q_out (n, M) and the output to w_out (n, 1): the offline run the
    evaluation and the parity tests use."""
    n_modes, copies = net[LOG_MAGNITUDE].shape
    for n in range(n_steps):
        advance(family, 1, 1, bank, net, coef, exc, w_out[n:n + 1])
        for m in range(n_modes):
            total = 0.0
            for j in range(copies):
                d = m * copies + j
                total += bank[C_RE, d, 0] * bank[X_RE, d, 0] - bank[C_IM, d, 0] * bank[X_IM, d, 0]
            q_out[n, m] = total
