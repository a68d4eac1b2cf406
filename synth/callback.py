"""The compiled PortAudio callback of the native audio path (docs/design.md, "From MIDI to
audio").

PortAudio calls `audio_callback()` on its real-time thread with a pointer to a small int64
`slot` array: slot[0] is the address of the engine's pointer table
(`synth.engine.pointers.pointer_table` of the state), slot[1] its number of rows, slot[2]
the output channel count. The callback rebuilds the `EngineState` from those addresses, runs
`process_block` and keeps the telemetry (callbacks, underruns, load measured with the cycle
counter). It is compiled code: it never takes the GIL and never allocates. The state's type
is the same for every model kind (the kind is reached through its entry points), so one
callback plays them all, and a preset switch is one store into the slot.

The kernel float type of the real-time path is float32.
"""

import functools

import numpy as np
from numba import carray, cfunc, njit, types

from synth.engine import pointers
from synth.engine.block import process_block
from synth.engine.state import (
    CALLBACKS,
    CLOCK,
    CLOCK_AT_CALLBACK,
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
from synth.kernels.options import KERNEL
from synth.native import address_as_pointer, cycles, pointer_as_address

# PortAudio ABI constants (portaudio.h), spelled out so that importing the callback does not
# initialise PortAudio; test_engine checks them against sounddevice's binding.
OUTPUT_UNDERFLOW = 0x4  # paOutputUnderflow: a statusFlags bit, the device ran dry
CONTINUE = 0  # paContinue: the callback's return value that keeps the stream running

TABLE, ROWS, CHANNELS = range(3)  # slot entries
SLOT_SIZE = 3
LOAD_SMOOTHING = 0.01  # weight of the newest block in the load average
REAL_TIME_DTYPE = np.float32


def prepare(state: EngineState) -> np.ndarray:
    """The pointer table of a (float32) state for the callback; keep it and the state alive
    while the callback may read them. Also lets compiled code rebuild such states."""
    if state.lane_out.dtype != REAL_TIME_DTYPE:
        raise TypeError(f"the native callback plays float32 engines, not {state.lane_out.dtype}")
    pointers.register(state, REAL_TIME_DTYPE)
    return pointers.pointer_table(state)


@njit(**KERNEL)
def run_callback(output_address, frames, status_flags, slot):
    """Everything the callback does, given the output buffer's address and the slot."""
    table = carray(address_as_pointer(slot[TABLE]), (slot[ROWS], pointers.ROW), np.int64)
    st = pointers.from_table(table, (EngineState,), np.float32)
    start = cycles()
    telemetry = st.telemetry
    telemetry[CALLBACKS] += 1.0
    if status_flags & OUTPUT_UNDERFLOW:
        telemetry[UNDERRUNS] += 1.0
    telemetry[TSC_AT_CALLBACK] = start
    telemetry[CLOCK_AT_CALLBACK] = telemetry[CLOCK]
    out = carray(address_as_pointer(output_address), (frames, slot[CHANNELS]), np.float32)
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


@functools.cache
def audio_callback():
    """The callback, a numba cfunc (`.address` is its C function pointer); compiled (or
    loaded from the cache) on first use, after `prepare` has seen a state."""

    @cfunc(CALLBACK_SIGNATURE, cache=True)
    def callback(input_buffer, output_buffer, frames, time_info, status_flags, user_data):
        slot = carray(user_data, (SLOT_SIZE,), np.int64)
        run_callback(pointer_as_address(output_buffer), frames, status_flags, slot)
        return CONTINUE

    return callback
