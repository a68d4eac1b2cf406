"""Everything the audio thread touches, preallocated: the `EngineState` tuple of arrays.

The same tuple drives offline rendering (built from NumPy arrays) and the real-time
callback (rebuilt from raw pointers, see `synth.callback`), so both run identical code. Rows
and slots are named by the integer constants below; lanes (voice slots) are the last axis of
every per-voice array. The voices themselves are the model kind's own arrays (`voices`, a
NamedTuple of the kind's `voices_class`), so the engine is compiled once per kind. Sizes are
fixed when the engine is built, so the audio thread never allocates.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from synth import keyboards, params
from synth.engine import events, pointers
from synth.engine.kind_entries import ENTRIES, PUBLISHED, entries_for
from synth.engine.schedule import empty_schedule
from synth.kernels.aligned import aligned_zeros, padded
from synth.kernels.body import set_coefficients
from synth.kernels.formulas import EXCITE_FIELDS, LOSS_FIELDS
from synth.kinds import find_kind
from synth.native import tsc_frequency
from synth.presets import EXCITATION_TYPES, Preset

# config (int64)
# POSITION: the sample of the block that events now applied fall on; FADE_FROM: the sample
# of the block from which the body's earlier ringing fades (an all-sound-off's).
# An audition (a recorded sound played through the output, `Engine.audition`): the caller
# fills the slot of `audition` that is neither playing (AUDITION_SLOT), fading out
# (AUDITION_FADING) nor last asked for (in AUDITION_NEXT), writes AUDITION_NEXT = length x
# AUDITION_SLOTS + slot (one int64, never read half written), then counts AUDITION_REQUEST up;
# the audio thread alone writes the rest: before each block's output it takes a request it has
# not seen (AUDITION_SEEN), then plays AUDITION_SLOT from AUDITION_READ to AUDITION_LENGTH; the
# one it replaced fades out from AUDITION_FADING_READ over AUDITION_FADING_COUNT samples, of
# which AUDITION_FADING_LEFT are left. No slot is written while it plays or fades.
(N_MODES, CAPACITY, POLYPHONY, NEXT_AGE, HI_LANE, RAMPING, SCOPE_WRITE, SCHEDULED, POSITION,
 FADE_FROM, AUDITION_REQUEST, AUDITION_NEXT, AUDITION_SEEN, AUDITION_SLOT, AUDITION_LENGTH,
 AUDITION_READ, AUDITION_FADING, AUDITION_FADING_READ, AUDITION_FADING_LEFT,
 AUDITION_FADING_COUNT) = range(20)
CONFIG_SIZE = 20
# constants (float64)
(FS, K, POSITION_REF, OUTPUT_GAIN, A4, FADE_STEPS, SILENCE, TSC_HZ, SMOOTH_TIME, CEILING,
 RELEASE, GAIN_NOW, LIMITER_ENV, TUNING, BRIDGE_SCALE, HAS_BODY, SPREAD, LOW_NOTE, HIGH_NOTE,
 BODY_SIZE_NOW, BODY_DAMPING_NOW, FADING_LEVEL, FADING_STEP, SWITCH_LEVEL, SWITCH_STEP,
 FRESH) = range(26)
CONSTANTS_SIZE = 26
# FADING_LEVEL, FADING_STEP: the level of the body's ringing from before an all-sound-off, and
# its per-sample step (0: nothing fading); SWITCH_LEVEL, SWITCH_STEP: the output's level while
# the `output` control switches (down to 0, switch, back up); FRESH: 1 when the voices' next
# samples start a new output (the pickup's differentiator restarts); POSITION_REF: the
# preset's excitation position, which the pluck_position control scales every key's by
# keys (float64, one row per MIDI note): the string and excitation of each key
# (`synth.keyboards`: the strings' fields, the losses among them from KEY_SIGMA0 on in the
# order of a loss record, then the excitation's)
KEY_GAMMA, KEY_KAPPA, KEY_NU, KEY_SIGMA0 = (
    keyboards.GAMMA, keyboards.KAPPA, keyboards.NU, keyboards.SIGMA0)
_STRINGS = len(keyboards.STRING_FIELDS)
(KEY_POSITION, KEY_AMPLITUDE, KEY_HAMMER_MASS, KEY_FELT, KEY_FELT_EXPONENT, KEY_HALF_WIDTH,
 KEY_SPEED_SOFT, KEY_SPEED_HARD, KEY_HOLD, KEY_SLIP) = (
    _STRINGS + field for field in (keyboards.POSITION, keyboards.AMPLITUDE,
                                   keyboards.HAMMER_MASS, keyboards.FELT,
                                   keyboards.FELT_EXPONENT, keyboards.HALF_WIDTH,
                                   keyboards.SPEED_SOFT, keyboards.SPEED_HARD,
                                   keyboards.HOLD, keyboards.SLIP))
KEY_FIELDS = _STRINGS + len(keyboards.EXCITATION_FIELDS)
# params rows (float64, one column per parameter)
TARGET, CURRENT, MINIMUM, MAXIMUM, SMOOTHING, RETUNES = range(6)
PARAM_ROWS = 6
# telemetry (float64)
(CLOCK, BLOCKS, CALLBACKS, UNDERRUNS, LOAD_LAST, LOAD_MAX, LOAD_AVG, ACTIVE, RESETS, NONFINITE,
 TSC_AT_CALLBACK, CLOCK_AT_CALLBACK, PEAK, REDUCTION, STOLEN, LATE, UNSCHEDULED) = range(17)
TELEMETRY_SIZE = 17
# voice_int rows and voice status
# HUSHED: 1 for a voice fading out after an all-sound-off (its force goes to `hushed`)
STATUS, NOTE, AGE, SUSTAINED, QUIET, HUSHED = range(6)
VOICE_INT_ROWS = 6
IDLE, HELD, RELEASED, FADING = 0, 1, 2, 3
# voice_f rows
# PAN_LEFT, PAN_RIGHT: the voice's direct sound in each channel (acoustic output);
# PREVIOUS: its last output sample, VELOCITY_SCALE: fs / omega_1 (the pickup output's scale);
# PRESSED: what a held pluck's string gave before it was let go, taken off its output
(GAMMA2, ENV, ENV_STEP, VOICE_PEAK, PAN_LEFT, PAN_RIGHT, PREVIOUS, VELOCITY_SCALE,
 PRESSED) = range(9)
VOICE_F_ROWS = 9
# meters (float64): a seqlock counter, then the loudest voice
# LOUD_FREQ is the first mode's measured frequency (Hz), from its phase advance over the last
# block; PREV_LANE and PREV_PHASE are what that measurement needs from the block before.
(SEQ, LOUD_LANE, LOUD_NOTE, LOUD_PEAK, LOUD_Q1, LOUD_P1, LOUD_OMEGA1, LOUD_FREQ, PREV_LANE,
 PREV_PHASE) = range(10)
METER_HEAD = 10  # followed by the loudest voice's modal energies, one per mode
SCOPE_SIZE = 16384

SPARE_LANES = 4  # at least this many lanes beyond the polyphony, for stolen voices fading out
FADE_SECONDS = 0.004
SILENCE_LEVEL = 1e-5  # -100 dBFS: a released voice quieter than this is freed
CEILING_LEVEL = 10 ** (-0.3 / 20)  # limiter ceiling, -0.3 dBFS
LIMITER_RELEASE_SECONDS = 0.1
SMOOTHING_SECONDS = 0.02
AUDITION_SECONDS = 6.0  # the longest audition (AUDITION_SLOTS slots of it, stereo float32)
AUDITION_SLOTS = 4  # one playing, one fading out, one asked for, one being written
AUDITION_FADE_SECONDS = 0.02  # a replaced or stopped audition fades out over this long


class EngineState(NamedTuple):
    """The engine's arrays (see the module constants for rows and slots)."""

    config: np.ndarray  # int64 (CONFIG_SIZE,)
    constants: np.ndarray  # float64 (CONSTANTS_SIZE,)
    params: np.ndarray  # float64 (PARAM_ROWS, N_PARAMS)
    cc_map: np.ndarray  # int64 (128,): parameter driven by each CC, -1 for none
    ring: np.ndarray  # int64 (RING_SIZE, 4): events
    ring_index: np.ndarray  # int64 (2,): write, read counters
    schedule: np.ndarray  # int64 (SCHEDULE_SIZE, 5): events waiting, a heap (config[SCHEDULED])
    telemetry: np.ndarray  # float64 (TELEMETRY_SIZE,)
    voice_int: np.ndarray  # int64 (VOICE_INT_ROWS, C)
    voice_f: np.ndarray  # float64 (VOICE_F_ROWS, C)
    lane_out: np.ndarray  # kernel dtype (max_block, C): each lane's output in a block
    mix: np.ndarray  # float64 (max_block, 2): the voices mixed, left and right
    force: np.ndarray  # float64 (max_block,): the voices' summed force on the bridge
    body_modes: np.ndarray  # float64 (B, 2): the body's mode frequencies (Hz), decays (1/s)
    body_gains: np.ndarray  # float64 (B, 2): each mode's gain at the two microphones
    body_coef: np.ndarray  # float64 (B, 4): `synth.kernels.body` coefficients, live
    body_state: np.ndarray  # float64 (B, 3): the body's state
    body_fading: np.ndarray  # float64 (B, 3): its ringing from before an all-sound-off
    body_out: np.ndarray  # float64 (max_block, 2): what the microphones hear of that ringing
    hushed: np.ndarray  # float64 (max_block,): the bridge force of the voices it fades out
    scope: np.ndarray  # float32 (SCOPE_SIZE,): the latest output samples, a ring
    meters: np.ndarray  # float64 (METER_HEAD + M,)
    voice_table: np.ndarray  # int64 (arrays, pointers.ROW): the kind's voices, by address
    kernels: np.ndarray  # int64 (kind_entries.ENTRIES,): the kind's entry points
    published: np.ndarray  # float64 (kind_entries.PUBLISHED,): publish_modes' result
    excitation: np.ndarray  # float64 (formulas.EXCITE_FIELDS,): the record `excite` reads
    losses: np.ndarray  # float64 (formulas.LOSS_FIELDS,): the record `retune` reads
    keys: np.ndarray  # float64 (128, KEY_FIELDS): each note's string and excitation
    audition: np.ndarray  # float32 (AUDITION_SLOTS, AUDITION_SECONDS x fs, 2): sounds to play


def build_state(preset: Preset, fs: float, max_block: int, polyphony: int,
                dtype=np.float32) -> tuple[EngineState, tuple]:
    """Allocate and initialise the engine state for `preset` at `fs` Hz; returns it and the
    kind's voices it points to, which must stay alive as long as the state is used. The
    first state of a kind (per float type and process) compiles its entry points, or loads
    them from the cache."""
    kind = find_kind(preset.kind)
    # Lanes: the polyphony plus spares for voices fading out after a steal, rounded up to
    # whole cache lines so every row starts aligned. Lanes above the highest sounding one
    # cost nothing.
    capacity = padded(polyphony + SPARE_LANES, dtype)
    voices = kind.build_voices(preset, fs, capacity, dtype)
    state = _allocate(capacity, max_block, preset.n_modes, dtype)._replace(
        voice_table=pointers.pointer_table(voices), kernels=entries_for(voices, dtype),
        audition=np.zeros((AUDITION_SLOTS, round(AUDITION_SECONDS * fs), 2), np.float32))
    config = state.config
    config[N_MODES] = preset.n_modes
    config[CAPACITY] = capacity
    config[POLYPHONY] = polyphony
    keyboard = preset.keys()
    state.keys[:, :_STRINGS] = keyboard.strings
    state.keys[:, _STRINGS:] = keyboard.excitation
    constants = state.constants
    constants[FS], constants[K] = fs, 1.0 / fs
    constants[POSITION_REF], constants[OUTPUT_GAIN] = preset.pluck_position, preset.output_gain
    constants[A4] = 440.0
    constants[TUNING] = kind.tuning(preset) if kind.tuning else 1.0
    constants[FADE_STEPS] = max(1.0, FADE_SECONDS * fs)
    constants[SILENCE] = SILENCE_LEVEL / preset.output_gain
    constants[SMOOTH_TIME] = SMOOTHING_SECONDS
    constants[TSC_HZ] = tsc_frequency()
    constants[CEILING] = CEILING_LEVEL
    constants[RELEASE] = np.exp(-1.0 / (LIMITER_RELEASE_SECONDS * fs))
    constants[GAIN_NOW] = preset.output_gain
    # The bridge force per unit tension is the string's slope at its end: a pluck at x_e of
    # depth d gives d / x_e there and d (1 - x_o) / (1 - x_e) at the pickup x_o, so this scale
    # makes the bridge force of the preset's own pluck as loud as its bare string.
    x_e, x_o = preset.pluck_position, preset.pickup
    constants[BRIDGE_SCALE] = x_e * (1.0 - x_o) / (1.0 - x_e)
    for p in params.PARAMS.values():
        default = preset_default(preset, p.name)
        state.params[:, p.id] = (default, default, p.minimum, p.maximum, p.smoothing,
                                 float(p.retunes))
    state.cc_map[params.MODULATION_WHEEL], state.cc_map[params.BRIGHTNESS_CC] = \
        params.NONLINEARITY, params.BRIGHTNESS
    state.meters[LOUD_LANE] = state.meters[PREV_LANE] = -1.0  # no loudest voice yet
    if preset.body is not None:
        body = preset.body
        state = state._replace(
            body_modes=np.stack([body.frequencies, body.decays], axis=1),
            body_gains=np.array(body.gains, dtype=np.float64),
            body_coef=np.zeros((len(body.frequencies), 4)),
            body_state=np.zeros((len(body.frequencies), 3)),
            body_fading=np.zeros((len(body.frequencies), 3)))
        constants[HAS_BODY], constants[SPREAD] = 1.0, body.spread
        constants[LOW_NOTE], constants[HIGH_NOTE] = body.range
    else:
        constants[LOW_NOTE], constants[HIGH_NOTE] = 0.0, 127.0
    size, damping = (state.params[CURRENT, p] for p in (params.BODY_SIZE, params.BODY_DAMPING))
    set_coefficients(state.body_modes, size, damping, fs, state.body_coef, state.body_state)
    constants[BODY_SIZE_NOW], constants[BODY_DAMPING_NOW] = size, damping
    constants[SWITCH_LEVEL] = 1.0
    return state, voices


def _allocate(capacity: int, max_block: int, n_modes: int, dtype) -> EngineState:
    """A state of `capacity` lanes, blocks of up to max_block frames and meters for n_modes
    modes, all zero and no controller assigned, bound to no kind yet."""
    return EngineState(
        config=np.zeros(CONFIG_SIZE, np.int64), constants=np.zeros(CONSTANTS_SIZE),
        params=np.zeros((PARAM_ROWS, params.N_PARAMS)), cc_map=np.full(128, -1, np.int64),
        ring=np.zeros((events.RING_SIZE, 4), np.int64), ring_index=np.zeros(2, np.int64),
        schedule=empty_schedule(),
        telemetry=np.zeros(TELEMETRY_SIZE),
        voice_int=np.zeros((VOICE_INT_ROWS, capacity), np.int64),
        voice_f=aligned_zeros((VOICE_F_ROWS, capacity), np.float64),
        lane_out=aligned_zeros((max_block, capacity), dtype), mix=np.zeros((max_block, 2)),
        force=np.zeros(max_block), body_modes=np.array([[100.0, 10.0]]),
        body_gains=np.zeros((1, 2)), body_coef=np.zeros((1, 4)), body_state=np.zeros((1, 3)),
        body_fading=np.zeros((1, 3)), body_out=np.zeros((max_block, 2)),
        hushed=np.zeros(max_block),
        scope=np.zeros(SCOPE_SIZE, np.float32), meters=np.zeros(METER_HEAD + n_modes),
        voice_table=np.zeros((1, pointers.ROW), np.int64), kernels=np.zeros(ENTRIES, np.int64),
        published=np.zeros(PUBLISHED), excitation=np.zeros(EXCITE_FIELDS),
        losses=np.zeros(LOSS_FIELDS), keys=np.zeros((keyboards.KEYS, KEY_FIELDS)),
        audition=np.zeros((AUDITION_SLOTS, 1, 2), np.float32))


def _implied(preset: Preset) -> dict[str, float]:
    """The live parameters a preset's excitation, pickup and body set, and their values (a
    preset without a body is heard as its bare string)."""
    return {"pluck_position": preset.pluck_position, "pickup_position": preset.pickup,
            "excitation": float(EXCITATION_TYPES.index(preset.excitation_type)),
            "excitation_width": preset.excitation_width_ms,
            "output": float(params.ACOUSTIC if preset.body is not None else params.BARE)}


def preset_sets(preset: Preset, name: str) -> bool:
    """Whether loading `preset` sets live parameter `name` (else the value carries over)."""
    return name in preset.controls or name in _implied(preset)


def preset_default(preset: Preset, name: str) -> float:
    """Live parameter `name`'s value when `preset` loads: the preset's own control value, else
    what its excitation, pickup and body imply, else the parameter's default (clamped)."""
    p = params.param(name)
    return p.clamp(preset.controls.get(name, _implied(preset).get(name, p.default)))


def prototype(dtype=np.float32) -> EngineState:
    """A minimal state of the engine's type at float type `dtype`, playing nothing and bound
    to no kind: what compiling the engine (`synth.warm`) needs, without a preset."""
    return _allocate(1, 1, 1, dtype)
