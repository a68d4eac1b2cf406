"""The compiled PortAudio callback of the native audio path (DESIGN.md section 4).

PortAudio calls `audio_callback` on its real-time thread with a pointer to a small int64
`slot` array: slot[0] is the address of the engine's pointer table (`state.pointer_table`),
slot[1] the output channel count. The callback rebuilds the `EngineState` from those
addresses, runs `process_block` and keeps the telemetry (callbacks, underruns, load measured
with the cycle counter). It is compiled code: it never takes the GIL and never allocates.
Importing this module compiles it (or loads it from the cache).

The kernel float type of the real-time path is float32.
"""

import numpy as np
from numba import carray, cfunc, njit, types

from synth.engine.block import process_block
from synth.engine.state import (
    CALLBACKS,
    CLOCK,
    CLOCK_AT_CALLBACK,
    FIELD_SPECS,
    FS,
    LATE,
    LOAD_AVG,
    LOAD_LAST,
    LOAD_MAX,
    TSC_AT_CALLBACK,
    TSC_HZ,
    UNDERRUNS,
    EngineState,
)
from synth.kernels.potentials import KERNEL
from synth.native import address_as_pointer, cycles, pointer_as_address

# PortAudio ABI constants (portaudio.h), spelled out so that importing the callback does not
# initialise PortAudio; test_engine checks them against sounddevice's binding.
OUTPUT_UNDERFLOW = 0x4  # paOutputUnderflow: a statusFlags bit, the device ran dry
CONTINUE = 0  # paContinue: the callback's return value that keeps the stream running

SLOT_SIZE = 2
N_FIELDS = len(FIELD_SPECS)
LOAD_SMOOTHING = 0.01  # weight of the newest block in the load average


@njit(inline="always")
def _int1(t, i):
    return carray(address_as_pointer(t[i, 0]), (t[i, 1],), np.int64)


@njit(inline="always")
def _int2(t, i):
    return carray(address_as_pointer(t[i, 0]), (t[i, 1], t[i, 2]), np.int64)


@njit(inline="always")
def _f64_1(t, i):
    return carray(address_as_pointer(t[i, 0]), (t[i, 1],), np.float64)


@njit(inline="always")
def _f64_2(t, i):
    return carray(address_as_pointer(t[i, 0]), (t[i, 1], t[i, 2]), np.float64)


@njit(inline="always")
def _f32_1(t, i):
    return carray(address_as_pointer(t[i, 0]), (t[i, 1],), np.float32)


@njit(inline="always")
def _f32_2(t, i):
    return carray(address_as_pointer(t[i, 0]), (t[i, 1], t[i, 2]), np.float32)


@njit(inline="always")
def _f32_3(t, i):
    return carray(address_as_pointer(t[i, 0]), (t[i, 1], t[i, 2], t[i, 3]), np.float32)


@njit(inline="always")
def _state(t):
    """The EngineState whose arrays the pointer table t describes (FIELD_SPECS order)."""
    return EngineState(
        _int1(t, 0), _f64_1(t, 1), _f64_2(t, 2), _int1(t, 3), _int2(t, 4), _int1(t, 5),
        _f64_1(t, 6), _int2(t, 7), _f64_2(t, 8), _f32_2(t, 9), _f32_2(t, 10), _f32_3(t, 11),
        _f32_3(t, 12), _f32_2(t, 13), _f64_2(t, 14),
        (_f32_2(t, 15), _f32_2(t, 16), _f32_2(t, 17), _f32_2(t, 18)),
        _f32_3(t, 19), _f32_2(t, 20), _f32_2(t, 21), _f32_2(t, 22), _f32_2(t, 23),
        _f32_2(t, 24), _f64_1(t, 25), _f32_1(t, 26), _f64_1(t, 27), _f32_3(t, 28),
        (_f64_2(t, 29), _f64_2(t, 30), _f64_2(t, 31), _f64_2(t, 32), _f64_2(t, 33),
         _f64_2(t, 34), _f64_2(t, 35), _f64_2(t, 36), _f64_2(t, 37), _f64_2(t, 38),
         _f64_2(t, 39), _f64_2(t, 40), _f64_2(t, 41), _f64_2(t, 42), _f64_2(t, 43)))


@njit(**KERNEL)
def run_callback(output_address, frames, status_flags, slot):
    """Everything the callback does, given the output buffer's address and the slot."""
    table = carray(address_as_pointer(slot[0]), (N_FIELDS, 5), np.int64)
    st = _state(table)
    start = cycles()
    telemetry = st.telemetry
    telemetry[CALLBACKS] += 1.0
    if status_flags & OUTPUT_UNDERFLOW:
        telemetry[UNDERRUNS] += 1.0
    telemetry[TSC_AT_CALLBACK] = start
    telemetry[CLOCK_AT_CALLBACK] = telemetry[CLOCK]
    out = carray(address_as_pointer(output_address), (frames, slot[1]), np.float32)
    max_block = st.lane_out.shape[0]
    for first in range(0, frames, max_block):
        process_block(st, out[first:min(first + max_block, frames)])
    budget = st.constants[TSC_HZ] * frames / st.constants[FS]  # cycles in one block period
    load = (cycles() - start) / budget if budget > 0.0 else 0.0
    telemetry[LOAD_LAST] = load
    telemetry[LOAD_AVG] += LOAD_SMOOTHING * (load - telemetry[LOAD_AVG])
    telemetry[LOAD_MAX] = max(telemetry[LOAD_MAX], load)
    if load > 1.0:
        telemetry[LATE] += 1.0


CALLBACK_SIGNATURE = types.int32(types.voidptr, types.voidptr, types.uint64, types.voidptr,
                                 types.uint64, types.voidptr)


@cfunc(CALLBACK_SIGNATURE, cache=True)
def audio_callback(input_buffer, output_buffer, frames, time_info, status_flags, user_data):
    slot = carray(user_data, (SLOT_SIZE,), np.int64)
    run_callback(pointer_as_address(output_buffer), frames, status_flags, slot)
    return CONTINUE
