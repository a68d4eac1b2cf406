"""One block of audio for all voices: events, voices, parameter smoothing, mixing, limiting.

`process_block(st, out)` is the whole audio path. The real-time callback and offline
rendering both call it, so a render reproduces real time exactly. It is compiled code that
takes no locks, allocates nothing and raises nothing: bad values are clamped, a voice that
turns non-finite is silenced and reset, and the output is limited below full scale.

Per block: new events join the schedule (`synth.engine.schedule`, earliest first);
parameters move toward their targets and, if the string changed, every voice's coefficients
are ramped across the block; the block is split at each due event's sample so notes start
exactly when asked; voices are mixed with their envelopes, in stereo; in the acoustic output
their summed bridge force drives the instrument's body (`synth.kernels.body`), heard at two
microphones; the master gain, an audition (a sound `Engine.audition` plays beside the
notes) and a peak limiter produce the output, which is also copied into the scope ring.
"""

import math

import numpy as np
from numba import njit

from synth import params
from synth.engine import events, schedule
from synth.engine import kind_entries as kind
from synth.engine.state import (
    A4,
    ACTIVE,
    AGE,
    AUDITION_FADE_SECONDS,
    AUDITION_FADING,
    AUDITION_FADING_COUNT,
    AUDITION_FADING_LEFT,
    AUDITION_FADING_READ,
    AUDITION_LENGTH,
    AUDITION_NEXT,
    AUDITION_READ,
    AUDITION_REQUEST,
    AUDITION_SEEN,
    AUDITION_SLOT,
    AUDITION_SLOTS,
    BLOCKS,
    BODY_DAMPING_NOW,
    BODY_SIZE_NOW,
    BRIDGE_SCALE,
    CAPACITY,
    CEILING,
    CLOCK,
    CURRENT,
    ENV,
    ENV_STEP,
    FADE_FROM,
    FADE_STEPS,
    FADING,
    FADING_LEVEL,
    FADING_STEP,
    FRESH,
    FS,
    GAIN_NOW,
    GAMMA2,
    HAS_BODY,
    HELD,
    HI_LANE,
    HIGH_NOTE,
    HUSHED,
    IDLE,
    KEY_AMPLITUDE,
    KEY_FELT,
    KEY_FELT_EXPONENT,
    KEY_GAMMA,
    KEY_HALF_WIDTH,
    KEY_HAMMER_MASS,
    KEY_HOLD,
    KEY_KAPPA,
    KEY_NU,
    KEY_POSITION,
    KEY_SIGMA0,
    KEY_SLIP,
    KEY_SPEED_HARD,
    KEY_SPEED_SOFT,
    LIMITER_ENV,
    LOUD_FREQ,
    LOUD_LANE,
    LOUD_NOTE,
    LOUD_OMEGA1,
    LOUD_P1,
    LOUD_PEAK,
    LOUD_Q1,
    LOW_NOTE,
    MAXIMUM,
    METER_HEAD,
    MINIMUM,
    NEXT_AGE,
    NONFINITE,
    NOTE,
    OUTPUT_GAIN,
    PAN_LEFT,
    PAN_RIGHT,
    PEAK,
    POLYPHONY,
    POSITION,
    POSITION_REF,
    PRESSED,
    PREV_LANE,
    PREV_PHASE,
    PREVIOUS,
    QUIET,
    RAMPING,
    REDUCTION,
    RELEASE,
    RELEASED,
    RESETS,
    RETUNES,
    SCHEDULED,
    SCOPE_WRITE,
    SEQ,
    SILENCE,
    SMOOTH_TIME,
    SMOOTHING,
    SPREAD,
    STATUS,
    STOLEN,
    SUSTAINED,
    SWITCH_LEVEL,
    SWITCH_STEP,
    TARGET,
    TUNING,
    UNSCHEDULED,
    VELOCITY_SCALE,
    VOICE_PEAK,
    K,
)
from synth.kernels.body import body_block, set_coefficients, settle_body
from synth.kernels.formulas import (
    BRIDGE,
    E_AMPLITUDE,
    E_FELT,
    E_FELT_EXPONENT,
    E_HAMMER_MASS,
    E_HAMMER_VELOCITY,
    E_HOLD,
    E_LENGTH,
    E_NOTE_SCALE,
    E_POSITION,
    E_RELEASE,
    E_SCRAPE,
    E_SHAPE,
    E_WIDTH,
    HAMMER,
    HELD_PLUCK,
    L_BRIDGE_MASS,
    L_MISTUNING,
    L_SIGMA0,
    LOSS_FIELDS,
    PLUCK,
    RISING,
    STRIKE,
    first_mode_gamma2,
    mode_decay,
    note_frequency,
    plectrum_release,
    slip_release,
)
from synth.kernels.options import INTERNAL, KERNEL
from synth.physics.pluck import (
    FINGER_CONTACT,
    FINGER_SCRAPE,
    PLECTRUM_CONTACT,
    PLECTRUM_SCRAPE,
)

LN_1000 = 3.0 * math.log(10.0)
# A held pluck's press came long before its note: the body and the outputs had settled under
# the held string, so a voice is heard relative to it (PRESSED), which fades over this long
# (s), slowly enough to be inaudible; the release is heard in full
PRESS_SECONDS = 0.05
QUIET_BLOCKS = 3  # a released voice below the silence level this many blocks is freed
TINY = 1e-20  # a held voice this quiet is set exactly to rest (no denormals)


# ------------------------------------------------------------------ the string of a voice
@njit(**INTERNAL)
def _tuned_gamma2(st, note):
    """gamma^2 that puts the note's first mode on pitch, given its key's string with today's
    stiffness and damping (tension 1, no bend) and how far the kind's first mode sounds above
    its linear string's (TUNING); a note too high for a very stiff string gets the lowest
    gamma."""
    cur = st.params[CURRENT]
    _fill_losses(st, note, False)
    kappa = st.keys[note, KEY_KAPPA] * cur[params.STIFFNESS]
    frequency = note_frequency(note, st.constants[A4]) / st.constants[TUNING]
    gamma2 = first_mode_gamma2(frequency, kappa, 0.0)  # then once more, with its losses
    if gamma2 > 0.0:
        sigma_1 = mode_decay(st.losses, gamma2, kappa, math.pi ** 2)
        gamma2 = first_mode_gamma2(frequency, kappa, sigma_1)
    return max(gamma2, 1e-6)


@njit(**INTERNAL)
def _fill_losses(st, note, released):
    """Write the losses of `note`'s key under the live decay and brightness (and, once
    released, the damper) into the record st.losses: decay divides every loss, brightness
    those that grow with frequency (sigma1, air, friction, bending); the bridge's mass and
    the unisons' mistuning are kept."""
    cur, key, losses = st.params[CURRENT], st.keys[note], st.losses
    decay = cur[params.DECAY]
    brightness = decay * cur[params.BRIGHTNESS]
    for field in range(LOSS_FIELDS):
        losses[field] = key[KEY_SIGMA0 + field] / decay
    for field in RISING:
        losses[field] = key[KEY_SIGMA0 + field] / brightness
    losses[L_BRIDGE_MASS] = key[KEY_SIGMA0 + L_BRIDGE_MASS]  # a mass, not a loss
    losses[L_MISTUNING] = key[KEY_SIGMA0 + L_MISTUNING]  # a tuning, not a loss
    if released:
        losses[L_SIGMA0] += LN_1000 / cur[params.DAMPER]


@njit(**INTERNAL)
def _live_gamma2(st, v):
    """gamma^2 of lane v's string now: its note's, under the live tension and pitch bend."""
    cur = st.params[CURRENT]
    semitones = cur[params.PITCH_BEND] * cur[params.BEND_RANGE]
    return st.voice_f[GAMMA2, v] * cur[params.TENSION] * 2.0 ** (semitones / 6.0)


@njit(**INTERNAL)
def _retune(st, v, n_ramp):
    """Apply the current live parameters to lane v's string (its note's key's)."""
    cur, key = st.params[CURRENT], st.keys[st.voice_int[NOTE, v]]
    gamma2 = _live_gamma2(st, v)
    kappa = key[KEY_KAPPA] * cur[params.STIFFNESS]
    _fill_losses(st, st.voice_int[NOTE, v], st.voice_int[STATUS, v] == RELEASED)
    nu = key[KEY_NU] * cur[params.NONLINEARITY]
    heard = BRIDGE if _output_mode(st) == params.ACOUSTIC else cur[params.PICKUP_POSITION]
    kind.retune(st, v, gamma2, kappa, nu * nu, heard, n_ramp)


_output_of = njit(**INTERNAL)(params.output_of)


@njit(**INTERNAL)
def _output_mode(st):
    """What is heard: params.ACOUSTIC, PICKUP or BARE."""
    return _output_of(st.params[CURRENT, params.OUTPUT])


@njit(**INTERNAL)
def _switch_output(st, target):
    """Move toward the output `target` asks for without a click: the output fades to silence
    (`_output` ramps SWITCH_LEVEL), then, at the start of the next block, every sounding
    voice is heard the new way at once, the body starts from rest, and the output fades back
    in. Asking for the current output again during the fade fades back in."""
    wanted, now = _output_of(target), _output_mode(st)
    fade = 1.0 / st.constants[FADE_STEPS]
    if wanted == now:
        if st.constants[SWITCH_STEP] < 0.0:
            st.constants[SWITCH_STEP] = fade
        return
    if st.constants[SWITCH_LEVEL] > 0.0:
        st.constants[SWITCH_STEP] = -fade
        return
    st.params[CURRENT, params.OUTPUT] = float(wanted)
    for v in range(st.config[HI_LANE]):
        if st.voice_int[STATUS, v] != IDLE:
            _retune(st, v, 0)
    st.body_state[:] = 0.0
    st.body_fading[:] = 0.0
    st.constants[FADING_STEP] = 0.0
    st.constants[FRESH] = 1.0
    st.constants[SWITCH_STEP] = fade


@njit(**INTERNAL)
def _place(st, v, note):
    """Lane v's direct sound panned by its note (constant power: the centre is as loud as
    mono), and the scale of its pickup output (params.PICKUP_LEVEL fs / omega_1)."""
    low, high = st.constants[LOW_NOTE], st.constants[HIGH_NOTE]
    across = min(max((2.0 * note - low - high) / (high - low), -1.0), 1.0)
    angle = (1.0 + st.constants[SPREAD] * across) * math.pi / 4.0
    st.voice_f[PAN_LEFT, v] = math.sqrt(2.0) * math.cos(angle)
    st.voice_f[PAN_RIGHT, v] = math.sqrt(2.0) * math.sin(angle)
    frequency = note_frequency(note, st.constants[A4])
    st.voice_f[VELOCITY_SCALE, v] = params.PICKUP_LEVEL / (2.0 * math.pi * frequency
                                                            * st.constants[K])


# ------------------------------------------------------------------ voices
@njit(**INTERNAL)
def _free_lane(st):
    """The lowest idle lane, or else the fading lane furthest along (cut short), or -1."""
    best, best_env = -1, 2.0
    for v in range(st.config[CAPACITY]):
        status = st.voice_int[STATUS, v]
        if status == IDLE:
            return v
        if status == FADING and st.voice_f[ENV, v] < best_env:
            best, best_env = v, st.voice_f[ENV, v]
    return best


@njit(**INTERNAL)
def _fade(st, v, steps):
    st.voice_int[STATUS, v] = FADING
    st.voice_f[ENV_STEP, v] = -max(st.voice_f[ENV, v], 1e-3) / steps


@njit(**INTERNAL)
def _steal(st):
    """Fade out the oldest released voice, or else the oldest held one."""
    victim, victim_age, victim_rank = -1, 0, 3
    for v in range(st.config[CAPACITY]):
        status = st.voice_int[STATUS, v]
        rank = 0 if status == RELEASED else (1 if status == HELD else 3)
        age = st.voice_int[AGE, v]
        if rank < victim_rank or (rank == victim_rank and rank < 3 and age < victim_age):
            victim, victim_age, victim_rank = v, age, rank
    if victim >= 0:
        _fade(st, victim, st.constants[FADE_STEPS])
        st.telemetry[STOLEN] += 1.0


@njit(**INTERNAL)
def _note_on(st, note, velocity):
    if velocity <= 0:
        _note_off(st, note)
        return
    lane = -1
    for v in range(st.config[CAPACITY]):  # the same note again re-plucks its ringing string
        status = st.voice_int[STATUS, v]
        if st.voice_int[NOTE, v] == note and (status == HELD or status == RELEASED):
            lane = v
            break
    if lane < 0:
        sounding = 0
        for v in range(st.config[CAPACITY]):
            status = st.voice_int[STATUS, v]
            if status == HELD or status == RELEASED:
                sounding += 1
        for _ in range(sounding - st.config[POLYPHONY] + 1):  # several if the limit fell
            _steal(st)
        lane = _free_lane(st)
        if lane < 0:
            return
        kind.reset(st, lane)
        st.voice_f[GAMMA2, lane] = _tuned_gamma2(st, note)
        st.voice_f[PREVIOUS, lane] = 0.0
        st.voice_f[PRESSED, lane] = 0.0
        _place(st, lane, note)
    st.voice_int[STATUS, lane] = HELD
    st.voice_int[NOTE, lane] = note
    st.voice_int[AGE, lane] = st.config[NEXT_AGE]
    st.config[NEXT_AGE] += 1
    st.voice_int[SUSTAINED, lane] = 0
    st.voice_int[QUIET, lane] = 0
    st.voice_int[HUSHED, lane] = 0
    st.voice_f[ENV, lane] = 1.0
    st.voice_f[ENV_STEP, lane] = 0.0
    _retune(st, lane, 0)
    _excite(st, lane, velocity)
    st.config[HI_LANE] = max(st.config[HI_LANE], lane + 1)


@njit(**INTERNAL)
def _excite(st, lane, velocity):
    """Fill the excitation record (`formulas.E_AMPLITUDE` ...) for a note of this velocity
    from its key, and start it on the lane. A pulse's force grows with velocity through the
    curve, and with gamma over the key's so that a string retuned by tension is displaced
    (and bent by the nonlinearity) about as much as at its own pitch; a key that holds its
    string for a pluck (`synth.physics.pluck`) is held by a force that grows alike, by a
    finger or a plectrum (the `plectrum` control), and let go as fast as the string slips
    off it (faster the harder the note, once held deeper than its gauge), or the
    plectrum's tip springs back.
    A hammer's speed runs from the key's softest to its hardest, evenly in its logarithm
    (so in dB) over velocities 1..127, the range narrowing toward the hardest as the
    velocity sensitivity falls below its default (0 plays every note at the hardest). The
    pluck_position control moves every key's excitation point by the same factor."""
    cur, record = st.params[CURRENT], st.excitation
    key = st.keys[st.voice_int[NOTE, lane]]
    sensitivity = cur[params.VELOCITY_SENSITIVITY]
    loudness = min(velocity, 127) / 127.0
    scale = math.sqrt(st.voice_f[GAMMA2, lane]) / key[KEY_GAMMA]
    choice = cur[params.EXCITATION]
    record[E_SHAPE] = PLUCK if choice < 0.5 else (STRIKE if choice < 1.5 else HAMMER)
    strength = loudness ** (3.0 * sensitivity) * scale
    record[E_AMPLITUDE] = key[KEY_AMPLITUDE] * strength
    record[E_NOTE_SCALE] = scale
    record[E_LENGTH] = cur[params.EXCITATION_WIDTH] * 1e-3 / st.constants[K]  # ms to steps
    moved = key[KEY_POSITION] * cur[params.PLUCK_POSITION] / st.constants[POSITION_REF]
    record[E_POSITION] = min(max(moved, 0.01), 0.99)
    record[E_WIDTH] = key[KEY_HALF_WIDTH]
    record[E_HOLD], record[E_RELEASE], record[E_SCRAPE] = 0.0, 0.0, 0.0
    if record[E_SHAPE] == PLUCK and key[KEY_HOLD] > 0.0:
        plectrum = cur[params.PLECTRUM] >= 0.5
        record[E_SHAPE] = HELD_PLUCK
        # a string retuned by tension is as stiff sideways as its tension: the same
        # deflection needs a force in proportion to it
        record[E_HOLD] = key[KEY_HOLD] * strength * scale
        st.voice_f[PRESSED, lane] = math.nan  # held: heard from where the press left it
        release = slip_release(key[KEY_SLIP], math.sqrt(_live_gamma2(st, lane)),
                               record[E_HOLD], record[E_POSITION])
        record[E_SCRAPE] = FINGER_SCRAPE
        if plectrum:
            release = max(release, plectrum_release(cur[params.PLECTRUM_STIFFNESS]))
            record[E_SCRAPE] = PLECTRUM_SCRAPE
            record[E_WIDTH] *= PLECTRUM_CONTACT / FINGER_CONTACT
        record[E_RELEASE] = release / st.constants[K]
    softest, hardest = key[KEY_SPEED_SOFT], key[KEY_SPEED_HARD]
    record[E_HAMMER_VELOCITY] = 0.0
    if hardest > 0.0:
        span = sensitivity / params.FULL_RANGE_SENSITIVITY
        below = (127.0 - min(max(velocity, 1), 127)) / 126.0
        record[E_HAMMER_VELOCITY] = hardest * (softest / hardest) ** (span * below)
    record[E_HAMMER_MASS] = key[KEY_HAMMER_MASS]
    record[E_FELT], record[E_FELT_EXPONENT] = key[KEY_FELT], key[KEY_FELT_EXPONENT]
    kind.excite(st, lane)


@njit(**INTERNAL)
def _release(st, v):
    st.voice_int[STATUS, v] = RELEASED
    st.voice_int[SUSTAINED, v] = 0
    _retune(st, v, 0)


@njit(**INTERNAL)
def _note_off(st, note):
    pedal = st.params[CURRENT, params.SUSTAIN] >= 0.5
    for v in range(st.config[CAPACITY]):
        if st.voice_int[NOTE, v] == note and st.voice_int[STATUS, v] == HELD:
            if pedal:
                st.voice_int[SUSTAINED, v] = 1
            else:
                _release(st, v)


@njit(**INTERNAL)
def _all_notes_off(st):
    pedal = st.params[CURRENT, params.SUSTAIN] >= 0.5
    for v in range(st.config[CAPACITY]):
        if st.voice_int[STATUS, v] == HELD:
            if pedal:
                st.voice_int[SUSTAINED, v] = 1
            else:
                _release(st, v)


@njit(**INTERNAL)
def _all_sound_off(st):
    """Fade every voice and the body's ringing out within FADE_STEPS. The body is linear, so
    its ringing so far moves to a bank of its own that fades out (`_body`), driven by the
    fading voices alone, while the body itself starts again from rest and answers the notes
    played from now on in full."""
    for v in range(st.config[CAPACITY]):
        if st.voice_int[STATUS, v] != IDLE:
            _fade(st, v, st.constants[FADE_STEPS])
            st.voice_int[HUSHED, v] = 1
    for k in range(st.body_state.shape[0]):  # what still fades from before is cut short
        for column in range(st.body_state.shape[1]):
            st.body_fading[k, column] = st.body_state[k, column]
    st.body_state[:] = 0.0
    position = st.config[POSITION]
    for i in range(position):  # this block's force so far belongs to that ringing too
        st.hushed[i] += st.force[i]
        st.force[i] = 0.0
    st.config[FADE_FROM] = position
    st.constants[FADING_LEVEL] = 1.0
    st.constants[FADING_STEP] = -1.0 / st.constants[FADE_STEPS]
    st.config[AUDITION_LENGTH] = 0  # an audition stops too, at once, and one asked for is
    st.config[AUDITION_FADING_LEFT] = 0  # dropped
    st.config[AUDITION_SEEN] = st.config[AUDITION_REQUEST]



@njit(**INTERNAL)
def _set_sustain(st, down):
    was_down = st.params[CURRENT, params.SUSTAIN] >= 0.5
    value = 1.0 if down else 0.0
    st.params[TARGET, params.SUSTAIN] = value
    st.params[CURRENT, params.SUSTAIN] = value
    if was_down and not down:
        for v in range(st.config[CAPACITY]):
            if st.voice_int[STATUS, v] == HELD and st.voice_int[SUSTAINED, v] == 1:
                _release(st, v)


@njit(**INTERNAL)
def _control(st, number, value):
    value = min(max(value, 0), 127)
    if number == params.SUSTAIN_PEDAL:
        _set_sustain(st, value >= 64)
    elif number == params.ALL_SOUND_OFF_CC:
        _all_sound_off(st)
    elif number == params.RESET_CONTROLLERS:
        st.params[TARGET, params.PITCH_BEND] = 0.0
        _set_sustain(st, False)
    elif number == params.ALL_NOTES_OFF_CC:
        _all_notes_off(st)
    elif 0 <= number < 128 and st.cc_map[number] >= 0:
        i = st.cc_map[number]
        lo, hi = st.params[MINIMUM, i], st.params[MAXIMUM, i]
        st.params[TARGET, i] = lo + (hi - lo) * value / 127.0


@njit(**INTERNAL)
def _apply_event(st, event, a, b):
    if event == events.NOTE_ON:
        if 0 <= a < 128:
            _note_on(st, a, b)
    elif event == events.NOTE_OFF:
        if 0 <= a < 128:
            _note_off(st, a)
    elif event == events.CONTROL:
        _control(st, a, b)
    elif event == events.PITCH_BEND:
        st.params[TARGET, params.PITCH_BEND] = min(max((a - 8192) / 8192.0, -1.0), 1.0)
    elif event == events.ALL_NOTES_OFF:
        _all_notes_off(st)
    elif event == events.ALL_SOUND_OFF:
        _all_sound_off(st)


# ------------------------------------------------------------------ parameters
@njit(**INTERNAL)
def _smooth_parameters(st, frames):
    """Move every parameter toward its target for this block; True if the string changed."""
    fs = 1.0 / st.constants[K]
    alpha = 1.0 - math.exp(-frames / (st.constants[SMOOTH_TIME] * fs))
    changed = False
    for i in range(st.params.shape[1]):
        lo, hi = st.params[MINIMUM, i], st.params[MAXIMUM, i]
        target = min(max(st.params[TARGET, i], lo), hi)
        if not np.isfinite(target):
            target = st.params[CURRENT, i]
        current = st.params[CURRENT, i]
        mode = st.params[SMOOTHING, i]
        if i == params.SUSTAIN:
            if (target >= 0.5) != (current >= 0.5):
                _set_sustain(st, target >= 0.5)
            continue
        if i == params.OUTPUT:
            _switch_output(st, target)
            continue
        if mode == params.SMOOTH_LOG and current > 0.0 and target > 0.0:
            new = math.exp(math.log(current) + alpha * (math.log(target) - math.log(current)))
        elif mode == params.SMOOTH_NONE:
            new = target
        else:
            new = current + alpha * (target - current)
        if abs(new - target) <= 1e-6 * (hi - lo):
            new = target
        if new != current:
            st.params[CURRENT, i] = new
            if st.params[RETUNES, i] != 0.0:
                changed = True
    return changed


# ------------------------------------------------------------------ rendering
@njit(**INTERNAL)
def _render(st, start, stop):
    """Advance every voice from sample `start` to `stop` of the block and mix it: its sound
    into both channels (panned in the acoustic output), its bridge force into `force`."""
    n = stop - start
    hi = st.config[HI_LANE]
    if n <= 0 or hi == 0:
        return
    kind.advance(st, n, hi, st.config[RAMPING] != 0)
    mode = _output_mode(st)
    acoustic = mode == params.ACOUSTIC
    scale = st.constants[BRIDGE_SCALE] if acoustic else 1.0
    fresh = st.constants[FRESH] != 0.0
    st.constants[FRESH] = 0.0
    settling = math.exp(-st.constants[K] / PRESS_SECONDS)
    for v in range(hi):
        status = st.voice_int[STATUS, v]
        if status == IDLE:
            continue
        finite = kind.is_finite(st, v)
        for i in range(n):
            if not np.isfinite(st.lane_out[i, v]):
                finite = False
        if not finite:  # the guard: silence and reset, never let it reach the mix
            kind.reset(st, v)
            st.voice_int[STATUS, v] = IDLE
            st.telemetry[RESETS] += 1.0
            continue
        env, step = st.voice_f[ENV, v], st.voice_f[ENV_STEP, v]
        peak, previous = st.voice_f[VOICE_PEAK, v], st.voice_f[PREVIOUS, v]
        left, right = (st.voice_f[PAN_LEFT, v], st.voice_f[PAN_RIGHT, v]) if acoustic \
            else (1.0, 1.0)
        velocity_scale = st.voice_f[VELOCITY_SCALE, v]
        bridge = st.hushed if st.voice_int[HUSHED, v] != 0 else st.force
        pressed = st.voice_f[PRESSED, v]
        if math.isnan(pressed):  # a held string starts: its output goes on from where it was
            pressed = st.lane_out[0, v] - (0.0 if fresh else previous)
        elif fresh:  # another output: its quantity is another, and nothing is pressed
            pressed = 0.0
        if fresh:  # the differentiator starts from here
            previous = st.lane_out[0, v] - pressed
        for i in range(n):
            x = st.lane_out[i, v] - pressed
            pressed *= settling
            y = (x - previous) * velocity_scale if mode == params.PICKUP else x * scale
            previous = x
            sound = env * y
            st.mix[start + i, 0] += sound * left
            st.mix[start + i, 1] += sound * right
            bridge[start + i] += sound
            env = max(env + step, 0.0)
            peak = max(peak, abs(y))
        st.voice_f[ENV, v] = env
        st.voice_f[VOICE_PEAK, v] = peak
        st.voice_f[PREVIOUS, v] = previous
        st.voice_f[PRESSED, v] = pressed if abs(pressed) > TINY else 0.0  # no denormals


@njit(**INTERNAL)
def _body(st, frames):
    """The acoustic output's body: the summed bridge force drives it, and the block's mix
    becomes (1 - body_mix) direct sound + body_mix x what the two microphones hear, plus,
    after an all-sound-off, the body's earlier ringing fading out. Size and damping changes
    recompute its coefficients; in the other outputs it rests."""
    if _output_mode(st) != params.ACOUSTIC or st.constants[HAS_BODY] == 0.0:
        st.body_state[:] = 0.0
        st.body_fading[:] = 0.0
        st.constants[FADING_STEP] = 0.0
        return
    cur = st.params[CURRENT]
    size, damping = cur[params.BODY_SIZE], cur[params.BODY_DAMPING]
    if size != st.constants[BODY_SIZE_NOW] or damping != st.constants[BODY_DAMPING_NOW]:
        set_coefficients(st.body_modes, size, damping, st.constants[FS], st.body_coef,
                         st.body_state)
        st.constants[BODY_SIZE_NOW], st.constants[BODY_DAMPING_NOW] = size, damping
    share = cur[params.BODY_MIX]
    for i in range(frames):
        st.mix[i, 0] *= 1.0 - share
        st.mix[i, 1] *= 1.0 - share
        st.force[i] *= share
        st.hushed[i] *= share
    body_block(st.force[:frames], st.body_coef, st.body_gains, st.body_state,
               st.mix[:frames])
    settle_body(st.body_state)
    step = st.constants[FADING_STEP]
    if step < 0.0:  # all sound off: the ringing from before it fades out, with its voices
        for i in range(frames):
            st.body_out[i, 0] = 0.0
            st.body_out[i, 1] = 0.0
        body_block(st.hushed[:frames], st.body_coef, st.body_gains, st.body_fading,
                   st.body_out[:frames])
        level = st.constants[FADING_LEVEL]
        for i in range(frames):
            if i >= st.config[FADE_FROM]:
                level = max(level + step, 0.0)
            st.mix[i, 0] += level * st.body_out[i, 0]
            st.mix[i, 1] += level * st.body_out[i, 1]
        st.config[FADE_FROM] = 0
        st.constants[FADING_LEVEL] = level
        if level <= 0.0:
            st.body_fading[:] = 0.0
            st.constants[FADING_STEP] = 0.0


@njit(**INTERNAL)
def _housekeeping(st, frames):
    """Free finished voices, settle silent held ones, publish the loudest, count voices."""
    hi = st.config[HI_LANE]
    new_hi, active, loudest, loudest_peak = 0, 0, -1, 0.0
    for v in range(hi):
        status = st.voice_int[STATUS, v]
        peak = st.voice_f[VOICE_PEAK, v]
        if status == FADING and st.voice_f[ENV, v] <= 0.0:
            status = IDLE
        elif status == RELEASED:
            if peak < st.constants[SILENCE]:
                st.voice_int[QUIET, v] += 1
                if st.voice_int[QUIET, v] >= QUIET_BLOCKS:
                    status = IDLE
            else:
                st.voice_int[QUIET, v] = 0
        elif status == HELD and peak < TINY and st.voice_f[PRESSED, v] == 0.0:
            kind.settle(st, v)  # a string still pressed is held, not silent
        if status == IDLE:
            if st.voice_int[STATUS, v] != IDLE:
                kind.reset(st, v)
                st.voice_int[STATUS, v] = IDLE
        else:
            new_hi = v + 1
            active += 1
            if peak > loudest_peak:
                loudest, loudest_peak = v, peak
        st.voice_f[VOICE_PEAK, v] = 0.0
    st.config[HI_LANE] = new_hi
    st.telemetry[ACTIVE] = active
    meters = st.meters
    meters[SEQ] += 1.0  # odd while writing: readers retry
    meters[LOUD_LANE] = loudest
    if loudest >= 0:
        meters[LOUD_NOTE] = st.voice_int[NOTE, loudest]
        meters[LOUD_PEAK] = loudest_peak
        q1, p1, omega1 = kind.publish_modes(st, loudest, meters[METER_HEAD:])
        meters[LOUD_Q1], meters[LOUD_P1], meters[LOUD_OMEGA1] = q1, p1, omega1
        _measure_frequency(st, meters, loudest, math.atan2(-p1, q1), omega1, frames)
    else:
        for i in range(LOUD_NOTE, meters.shape[0]):
            meters[i] = 0.0
        meters[PREV_LANE] = -1.0
    meters[SEQ] += 1.0


@njit(**INTERNAL)
def _measure_frequency(st, meters, lane, phase, omega1, frames):
    """The first mode's frequency (Hz) from its phase advance over this block, which the
    nonlinearity raises above the linear omega1 (the pitch glide). The advance is unwrapped
    around the linear one, so it is exact while the glide stays under half a cycle per
    block (a 20 % glide at 900 Hz with 128-frame blocks at 48 kHz)."""
    k = st.constants[K]
    if meters[PREV_LANE] == lane and omega1 > 0.0:
        predicted = omega1 * frames * k
        excess = phase - meters[PREV_PHASE] - predicted
        excess -= 2.0 * math.pi * math.floor(excess / (2.0 * math.pi) + 0.5)
        meters[LOUD_FREQ] = (predicted + excess) / (2.0 * math.pi * frames * k)
    else:
        meters[LOUD_FREQ] = 0.0  # not measured yet: a new loudest voice
    meters[PREV_LANE] = lane
    meters[PREV_PHASE] = phase


@njit(**INTERNAL)
def _take_audition(st):
    """Start the audition last asked for (`Engine.audition`) if this thread has not yet; the
    one it replaces, if still playing, fades out over AUDITION_FADE_SECONDS."""
    config = st.config
    request = config[AUDITION_REQUEST]
    if request != config[AUDITION_SEEN]:
        config[AUDITION_SEEN] = request
        left = config[AUDITION_LENGTH] - config[AUDITION_READ]
        if left > 0:
            fade = max(round(AUDITION_FADE_SECONDS * st.constants[FS]), 1)
            config[AUDITION_FADING] = config[AUDITION_SLOT]
            config[AUDITION_FADING_READ] = config[AUDITION_READ]
            config[AUDITION_FADING_LEFT] = min(fade, left)
            config[AUDITION_FADING_COUNT] = min(fade, left)
        asked = max(config[AUDITION_NEXT], 0)
        config[AUDITION_SLOT] = asked % AUDITION_SLOTS
        config[AUDITION_LENGTH] = min(asked // AUDITION_SLOTS, st.audition.shape[1])
        config[AUDITION_READ] = 0


@njit(**INTERNAL)
def _output(st, out):
    """Master gain (ramped across the block) and the output switch's fade, an audition
    added (at the master gain alone), a stereo-linked peak limiter, the channels (left on
    even ones, right on odd ones; a single channel gets their mean, so a note panned hard to
    one side is 3 dB quieter there), scope ring (the mean)."""
    frames, channels = out.shape
    _take_audition(st)
    slot, read, length = (st.config[AUDITION_SLOT], st.config[AUDITION_READ],
                          st.config[AUDITION_LENGTH])
    fading, fading_read, fading_left = (st.config[AUDITION_FADING],
                                        st.config[AUDITION_FADING_READ],
                                        st.config[AUDITION_FADING_LEFT])
    fading_count = max(st.config[AUDITION_FADING_COUNT], 1)
    level = 1.0 / st.constants[OUTPUT_GAIN]  # the master gain alone, ramped as the notes'
    target_gain = st.constants[OUTPUT_GAIN] * 10.0 ** (st.params[CURRENT, params.GAIN] / 20.0)
    gain, step = st.constants[GAIN_NOW], (target_gain - st.constants[GAIN_NOW]) / frames
    envelope, release, ceiling = st.constants[LIMITER_ENV], st.constants[RELEASE], \
        st.constants[CEILING]
    write = st.config[SCOPE_WRITE]
    size = st.scope.shape[0]
    peak, reduction = 0.0, 1.0
    switch, switch_step = st.constants[SWITCH_LEVEL], st.constants[SWITCH_STEP]
    for i in range(frames):
        gain += step
        switch = min(max(switch + switch_step, 0.0), 1.0)
        left, right = st.mix[i, 0] * gain * switch, st.mix[i, 1] * gain * switch
        if read < length:
            left += st.audition[slot, read, 0] * gain * level * switch
            right += st.audition[slot, read, 1] * gain * level * switch
            read += 1
        if fading_left > 0:  # the audition replaced or stopped, fading out linearly
            share = gain * level * switch * fading_left / fading_count
            left += st.audition[fading, fading_read, 0] * share
            right += st.audition[fading, fading_read, 1] * share
            fading_read += 1
            fading_left -= 1
        if not (np.isfinite(left) and np.isfinite(right)):
            left = right = 0.0
            st.telemetry[NONFINITE] += 1.0
        envelope = max(max(abs(left), abs(right)), envelope * release)  # linked: no shift
        g = ceiling / envelope if envelope > ceiling else 1.0
        left, right = min(max(left * g, -1.0), 1.0), min(max(right * g, -1.0), 1.0)
        reduction = min(reduction, g)
        peak = max(peak, max(abs(left), abs(right)))
        if channels == 1:
            out[i, 0] = 0.5 * (left + right)
        else:
            for c in range(channels):
                out[i, c] = left if c % 2 == 0 else right
        st.scope[write] = 0.5 * (left + right)
        write = (write + 1) % size
    st.config[SCOPE_WRITE] = write
    st.config[AUDITION_READ] = read
    st.config[AUDITION_FADING_READ], st.config[AUDITION_FADING_LEFT] = fading_read, fading_left
    st.constants[SWITCH_LEVEL] = switch
    if switch >= 1.0 and switch_step > 0.0:
        st.constants[SWITCH_STEP] = 0.0
    st.constants[GAIN_NOW] = target_gain
    st.constants[LIMITER_ENV] = envelope
    st.telemetry[PEAK] = peak
    st.telemetry[REDUCTION] = reduction


@njit(**KERNEL)
def process_block(st, out):
    """Render one block into out (frames, channels) float32 and advance the engine clock."""
    frames = out.shape[0]
    clock = np.int64(st.telemetry[CLOCK])
    if _smooth_parameters(st, frames):
        for v in range(st.config[HI_LANE]):
            if st.voice_int[STATUS, v] != IDLE:
                _retune(st, v, frames)
        st.config[RAMPING] = 1
    for i in range(frames):
        st.mix[i, 0] = 0.0
        st.mix[i, 1] = 0.0
        st.force[i] = 0.0
        st.hushed[i] = 0.0
    heap = st.schedule
    length, dropped = schedule.take_arrivals(st.ring, st.ring_index, heap, st.config[SCHEDULED])
    st.telemetry[UNSCHEDULED] += dropped
    position = 0
    while position < frames:
        now = clock + position
        stop = frames
        while length > 0:
            due = heap[0, schedule.TIME]
            if due > now:
                if due < clock + frames:
                    stop = due - clock
                break
            event, a, b = heap[0, schedule.TYPE], heap[0, schedule.A], heap[0, schedule.B]
            length = schedule.remove_first(heap, length)
            st.config[POSITION] = position
            _apply_event(st, event, a, b)
        _render(st, position, stop)
        position = stop
    if st.config[RAMPING] != 0:
        kind.end_ramps(st, st.config[CAPACITY])
        st.config[RAMPING] = 0
    st.config[SCHEDULED] = length
    _body(st, frames)
    _housekeeping(st, frames)
    _output(st, out)
    st.telemetry[CLOCK] = clock + frames
    st.telemetry[BLOCKS] += 1.0
