"""Everything the audio thread touches, preallocated: the `EngineState` tuple of arrays.

The same tuple drives offline rendering (built from NumPy arrays) and the real-time
callback (rebuilt from raw pointers, see `synth.audio`), so both run identical code. Rows and
slots are named by the integer constants below; lanes (voice slots) are the last axis of
every per-voice array. Sizes are fixed when the engine is built, so the audio thread never
allocates.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from synth import bank, params
from synth.engine import events
from synth.kernels import bank as bank_kernels
from synth.kernels import lanes
from synth.kernels.aligned import aligned_zeros, padded
from synth.kernels.sav import LAMBDA0
from synth.native import tsc_frequency
from synth.presets import Preset

# config (int64)
FAMILY, KIND, N_MODES, CAPACITY, POLYPHONY, NEXT_AGE, HI_LANE, RAMPING, SCOPE_WRITE = range(9)
CONFIG_SIZE = 9
FAMILY_SAV = 0  # else bank.KOOPMAN or bank.SSM
# constants (float64)
(FS, K, LAMBDA0_, GAMMA_REF, KAPPA, NU, SIGMA0, SIGMA1, AMP_MAX, OUTPUT_GAIN, PSI_REST, A4,
 FADE_STEPS, SILENCE, TSC_HZ, SMOOTH_TIME, CEILING, RELEASE, GAIN_NOW, LIMITER_ENV) = range(20)
CONSTANTS_SIZE = 20
# params rows (float64, one column per parameter)
TARGET, CURRENT, MINIMUM, MAXIMUM, SMOOTHING, RETUNES = range(6)
PARAM_ROWS = 6
# telemetry (float64)
(CLOCK, BLOCKS, CALLBACKS, UNDERRUNS, LOAD_LAST, LOAD_MAX, LOAD_AVG, ACTIVE, RESETS, NONFINITE,
 TSC_AT_CALLBACK, CLOCK_AT_CALLBACK, PEAK, REDUCTION, STOLEN, LATE) = range(16)
TELEMETRY_SIZE = 16
# voice_int rows and voice status
STATUS, NOTE, AGE, SUSTAINED, QUIET = range(5)
VOICE_INT_ROWS = 5
IDLE, HELD, RELEASED, FADING = 0, 1, 2, 3
# voice_f rows
GAMMA2, ENV, ENV_STEP, VOICE_PEAK = range(4)
VOICE_F_ROWS = 4
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


class EngineState(NamedTuple):
    """The engine's arrays (see the module constants for rows and slots)."""

    config: np.ndarray  # int64 (CONFIG_SIZE,)
    constants: np.ndarray  # float64 (CONSTANTS_SIZE,)
    params: np.ndarray  # float64 (PARAM_ROWS, N_PARAMS)
    cc_map: np.ndarray  # int64 (128,): parameter driven by each CC, -1 for none
    ring: np.ndarray  # int64 (RING_SIZE, 4): events
    ring_index: np.ndarray  # int64 (2,): write, read counters
    telemetry: np.ndarray  # float64 (TELEMETRY_SIZE,)
    voice_int: np.ndarray  # int64 (VOICE_INT_ROWS, C)
    voice_f: np.ndarray  # float64 (VOICE_F_ROWS, C)
    q: np.ndarray  # kernel dtype (M, C)
    p: np.ndarray  # (M, C)
    coef: np.ndarray  # (lanes.COEF_ROWS, M, C)
    ramp: np.ndarray  # (lanes.COEF_ROWS, M, C)
    per_lane: np.ndarray  # (lanes.LANE_ROWS, C)
    exc: np.ndarray  # float64 (lanes.EXC_ROWS, C)
    tables: tuple  # the potential's four 2-D tables
    scratch: np.ndarray  # (lanes.SCRATCH_ROWS, W, C)
    hidden: np.ndarray  # (C, W)
    column: np.ndarray  # (lanes.COLUMN_ROWS, W)
    grad: np.ndarray  # (M, C)
    acc: np.ndarray  # (lanes.ACC_ROWS, C)
    lane_out: np.ndarray  # (max_block, C)
    mix: np.ndarray  # float64 (max_block,)
    scope: np.ndarray  # float32 (SCOPE_SIZE,): the latest output samples, a ring
    meters: np.ndarray  # float64 (METER_HEAD + M,)
    bank: np.ndarray  # (bank_kernels.BANK_ROWS, W, C): oscillator-bank voices (1 x 1 for SAV)
    net: tuple  # the bank's NET_TABLES float64 2-D tables (`synth.bank`)


def build_state(preset: Preset, fs: float, max_block: int, polyphony: int,
                dtype=np.float32) -> EngineState:
    """Allocate and initialise the engine state for `preset` at `fs` Hz."""
    n_modes = preset.n_modes
    # Lanes: the polyphony plus spares for voices fading out after a steal, rounded up to
    # whole cache lines so every row starts aligned. Lanes above the highest sounding one
    # cost nothing.
    capacity = padded(polyphony + SPARE_LANES, dtype)
    potential = preset.potential(dtype)
    width = padded(max([n_modes + 1] + [max(t.shape) for t in potential.tables]), dtype)

    def per_voice(*rows, kind=dtype):
        return aligned_zeros((*rows, capacity), kind)

    family = bank.FAMILY_CODES.get(preset.kind, FAMILY_SAV)
    if family == FAMILY_SAV:
        net, bank_width = bank.sav_net_tables(), 1
    else:
        net = bank.net_tables(preset.kind, n_modes, preset.settings, preset.weights,
                              preset.string)
        bank_width = padded(max(net[bank.LOG_MAGNITUDE].size, 2 * n_modes,
                                bank_kernels.LANE_COLUMNS), dtype)
    config = np.zeros(CONFIG_SIZE, np.int64)
    config[FAMILY] = family
    config[KIND] = potential.kind
    config[N_MODES] = n_modes
    config[CAPACITY] = capacity
    config[POLYPHONY] = polyphony
    string = preset.string
    constants = np.zeros(CONSTANTS_SIZE)
    constants[FS], constants[K], constants[LAMBDA0_] = fs, 1.0 / fs, LAMBDA0
    constants[GAMMA_REF], constants[KAPPA], constants[NU] = string.gamma, string.kappa, string.nu
    constants[SIGMA0], constants[SIGMA1] = string.sigma0, string.sigma1
    constants[AMP_MAX], constants[OUTPUT_GAIN] = preset.amplitude, preset.output_gain
    constants[PSI_REST] = np.sqrt(2.0 * potential.value(np.zeros(n_modes)) + 1e-12)
    constants[A4] = 440.0
    constants[FADE_STEPS] = max(1.0, FADE_SECONDS * fs)
    constants[SILENCE] = SILENCE_LEVEL / preset.output_gain
    constants[SMOOTH_TIME] = SMOOTHING_SECONDS
    constants[TSC_HZ] = tsc_frequency()
    constants[CEILING] = CEILING_LEVEL
    constants[RELEASE] = np.exp(-1.0 / (LIMITER_RELEASE_SECONDS * fs))
    constants[GAIN_NOW] = preset.output_gain
    param_table = np.zeros((PARAM_ROWS, params.N_PARAMS))
    for p in params.PARAMS.values():
        default = preset_default(preset, p.name)
        param_table[:, p.id] = (default, default, p.minimum, p.maximum, p.smoothing,
                                 float(p.retunes))
    cc_map = np.full(128, -1, np.int64)
    cc_map[events.MODULATION_WHEEL], cc_map[events.BRIGHTNESS_CC] = \
        params.NONLINEARITY, params.BRIGHTNESS
    voice_int = np.zeros((VOICE_INT_ROWS, capacity), np.int64)
    state = EngineState(
        config=config, constants=constants, params=param_table, cc_map=cc_map,
        ring=np.zeros((events.RING_SIZE, 4), np.int64), ring_index=np.zeros(2, np.int64),
        telemetry=np.zeros(TELEMETRY_SIZE), voice_int=voice_int,
        voice_f=per_voice(VOICE_F_ROWS, kind=np.float64),
        q=per_voice(n_modes), p=per_voice(n_modes),
        coef=per_voice(lanes.COEF_ROWS, n_modes), ramp=per_voice(lanes.COEF_ROWS, n_modes),
        per_lane=_rest_lanes(per_voice(lanes.LANE_ROWS), constants[PSI_REST]),
        exc=per_voice(lanes.EXC_ROWS, kind=np.float64), tables=potential.tables,
        scratch=per_voice(lanes.SCRATCH_ROWS, width),
        hidden=aligned_zeros((capacity, width), dtype),
        column=aligned_zeros((lanes.COLUMN_ROWS, width), dtype), grad=per_voice(n_modes),
        acc=per_voice(lanes.ACC_ROWS), lane_out=per_voice(max_block),
        mix=np.zeros(max_block), scope=np.zeros(SCOPE_SIZE, np.float32),
        meters=_no_loudest_voice(np.zeros(METER_HEAD + n_modes)),
        bank=per_voice(bank_kernels.BANK_ROWS, bank_width), net=net)
    if family != FAMILY_SAV:
        for v in range(capacity):
            bank_kernels.reset(v, family, state.bank, state.net, state.exc)
    return state


def _implied(preset: Preset) -> dict[str, float]:
    """The live parameters a preset's excitation and pickup set, and their values."""
    return {"pluck_position": preset.pluck_position, "pickup_position": preset.pickup,
            "excitation": 0.0 if preset.excitation_type == "pluck" else 1.0,
            "excitation_width": preset.excitation_width_ms}


def preset_sets(preset: Preset, name: str) -> bool:
    """Whether loading `preset` sets live parameter `name` (else the value carries over)."""
    return name in preset.controls or name in _implied(preset)


def preset_default(preset: Preset, name: str) -> float:
    """Live parameter `name`'s value when `preset` loads: the preset's own control value, else
    what its excitation and pickup imply, else the parameter's default (clamped)."""
    p = params.param(name)
    return p.clamp(preset.controls.get(name, _implied(preset).get(name, p.default)))


def _no_loudest_voice(meters: np.ndarray) -> np.ndarray:
    meters[LOUD_LANE] = meters[PREV_LANE] = -1.0
    return meters


def _rest_lanes(per_lane: np.ndarray, psi_rest: float) -> np.ndarray:
    per_lane[lanes.PSI] = psi_rest
    return per_lane


# The arrays of an EngineState in field order, `tables` and `net` expanded to their members: the
# layout of the pointer table through which the compiled audio callback finds them.
FIELD_SPECS = [(name, dtype, ndim) for name, dtype, ndim in (
    ("config", "int64", 1), ("constants", "float64", 1), ("params", "float64", 2),
    ("cc_map", "int64", 1), ("ring", "int64", 2), ("ring_index", "int64", 1),
    ("telemetry", "float64", 1), ("voice_int", "int64", 2), ("voice_f", "float64", 2),
    ("q", "kernel", 2), ("p", "kernel", 2), ("coef", "kernel", 3), ("ramp", "kernel", 3),
    ("per_lane", "kernel", 2), ("exc", "float64", 2), ("tables[0]", "kernel", 2),
    ("tables[1]", "kernel", 2), ("tables[2]", "kernel", 2), ("tables[3]", "kernel", 2),
    ("scratch", "kernel", 3), ("hidden", "kernel", 2), ("column", "kernel", 2),
    ("grad", "kernel", 2), ("acc", "kernel", 2), ("lane_out", "kernel", 2),
    ("mix", "float64", 1), ("scope", "float32", 1), ("meters", "float64", 1),
    ("bank", "kernel", 3), *((f"net[{i}]", "float64", 2) for i in range(bank.NET_TABLES)))]


def pointer_table(state: EngineState) -> np.ndarray:
    """(fields, 5) int64 rows of address, dims 0..2 and ndim, in FIELD_SPECS order; every
    array must be C-contiguous and of its spec's dtype ("kernel": the state's float type)."""
    kernel = state.q.dtype
    rows = []
    for name, dtype, ndim in FIELD_SPECS:
        if "[" in name:
            field_name, index = name.rstrip("]").split("[")
            array = getattr(state, field_name)[int(index)]
        else:
            array = getattr(state, name)
        expected = kernel if dtype == "kernel" else np.dtype(dtype)
        if array.dtype != expected or array.ndim != ndim or not array.flags.c_contiguous:
            raise ValueError(f"engine field {name}: {array.dtype}{array.shape} does not "
                             f"match {expected} with {ndim} dimensions, C order")
        shape = list(array.shape) + [1] * (3 - ndim)
        rows.append([array.ctypes.data, *shape, ndim])
    return np.array(rows, dtype=np.int64)
