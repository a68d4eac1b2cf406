"""The engine's calls into a model kind: C entry points to the kind's voice kernels.

The engine is compiled once, for every kind. It reaches the playing preset's kind through
the addresses of eight compiled C functions (the state's `kernels` array), each of which
rebuilds the kind's voices from their pointer table (`synth.engine.pointers`) and calls the
kernel (`synth.kinds.VoiceKernels`). A kind's entries are compiled, and cached like every
kernel, the first time one of its presets plays at a float type; the engine's code never
links the kind's, so a new kind compiles nothing of the engine again, and the engine and a
kind can compile at the same time.

The INLINE functions at the end are what the engine's block code calls: each forwards its
arguments to the entry the state names, with the voices' table (`voice_table`).
"""

from __future__ import annotations

import functools

import numpy as np
from numba import carray, cfunc, njit, types

from synth.engine import pointers
from synth.kernels.dispatch import dispatch
from synth.kernels.formulas import EXCITE_FIELDS, LOSS_FIELDS
from synth.kernels.options import INLINE
from synth.kinds import kind_for_voices
from synth.native import address_as_pointer, call_c, call_c_int

RESET, SETTLE, RETUNE, EXCITE, ADVANCE, END_RAMPS, IS_FINITE, PUBLISH_MODES = range(8)
ENTRIES = 8
PUBLISHED = 3  # what publish_modes returns besides the energies: q1, p1 / omega1, omega1


def _kernel(name: str):
    return lambda voices_class: getattr(kind_for_voices(voices_class).kernels, name)


# The kind's kernels, chosen while compiling from the class of the voices.
_reset = dispatch("reset", _kernel("reset"))
_settle = dispatch("settle", _kernel("settle"))
_retune = dispatch("retune", _kernel("retune"))
_excite = dispatch("excite", _kernel("excite"))
_advance = dispatch("advance", _kernel("advance"))
_end_ramps = dispatch("end_ramps", _kernel("end_ramps"))
_is_finite = dispatch("is_finite", _kernel("is_finite"))
_publish_modes = dispatch("publish_modes", _kernel("publish_modes"))

_i64, _f64 = types.int64, types.float64


def entries_for(voices, dtype) -> np.ndarray:
    """The addresses (ENTRIES,) int64 of the entry points that play `voices` (a kind's
    voices, float arrays of `dtype`); compiles them, or loads them from the cache, once per
    process and class."""
    made_of = pointers.register(voices, dtype)
    return _entries(made_of, np.dtype(dtype).type).copy()


@njit(**INLINE)
def _voices(table, rows, made_of, dtype):
    """The voices made of the classes `made_of` (float arrays of `dtype`) whose pointer table
    of `rows` rows is at address `table`."""
    return pointers.from_table(carray(address_as_pointer(table), (rows, pointers.ROW),
                                      np.int64), made_of, dtype)


@functools.cache
def _entries(made_of: tuple[type, ...], dtype) -> np.ndarray:
    """The entries of voices made of the classes `made_of` (`pointers.classes`, the voices
    class first) with float arrays of `dtype`: cfuncs over a closure of those constants alone
    (a closure's pickle is part of the cache key, and a compiled function's would differ
    every run), each calling its kernel through a dispatching function that finds it from
    the voices class while compiling."""

    @cfunc(types.void(_i64, _i64, _i64), cache=True)
    def reset(table, rows, v):
        _reset(_voices(table, rows, made_of, dtype), v)

    @cfunc(types.void(_i64, _i64, _i64), cache=True)
    def settle(table, rows, v):
        _settle(_voices(table, rows, made_of, dtype), v)

    @cfunc(types.void(_i64, _i64, _i64, _f64, _f64, _i64, _f64, _f64, _i64), cache=True)
    def retune(table, rows, v, gamma2, kappa, record, nu2, pickup, n_ramp):
        losses = carray(address_as_pointer(record), (LOSS_FIELDS,), np.float64)
        _retune(_voices(table, rows, made_of, dtype), v, gamma2, kappa, losses, nu2, pickup,
                n_ramp)

    @cfunc(types.void(_i64, _i64, _i64, _i64), cache=True)
    def excite(table, rows, v, record):
        excitation = carray(address_as_pointer(record), (EXCITE_FIELDS,), np.float64)
        _excite(_voices(table, rows, made_of, dtype), v, excitation)

    @cfunc(types.void(_i64, _i64, _i64, _i64, _i64, _i64, _i64, _i64), cache=True)
    def advance(table, rows, n_steps, n_lanes, ramping, out, out_rows, out_columns):
        lanes = carray(address_as_pointer(out), (out_rows, out_columns), dtype)
        _advance(_voices(table, rows, made_of, dtype), n_steps, n_lanes, ramping != 0, lanes)

    @cfunc(types.void(_i64, _i64, _i64), cache=True)
    def end_ramps(table, rows, n_lanes):
        _end_ramps(_voices(table, rows, made_of, dtype), n_lanes)

    @cfunc(types.int64(_i64, _i64, _i64), cache=True)
    def is_finite(table, rows, v):
        return 1 if _is_finite(_voices(table, rows, made_of, dtype), v) else 0

    @cfunc(types.void(_i64, _i64, _i64, _i64, _i64, _i64), cache=True)
    def publish_modes(table, rows, v, energies, n_energies, result):
        values = carray(address_as_pointer(energies), (n_energies,), np.float64)
        published = carray(address_as_pointer(result), (PUBLISHED,), np.float64)
        voices = _voices(table, rows, made_of, dtype)
        published[0], published[1], published[2] = _publish_modes(voices, v, values)

    entries = (reset, settle, retune, excite, advance, end_ramps, is_finite, publish_modes)
    return np.array([entry.address for entry in entries], np.int64)


# ------------------------------------------------------------------ what the engine calls
# Each entry takes the voices' table (address, rows) first.
@njit(**INLINE)
def reset(st, v):
    """Bring lane v to rest and clear its excitation."""
    table = st.voice_table
    call_c(st.kernels[RESET], (table.ctypes.data, table.shape[0], v))


@njit(**INLINE)
def settle(st, v):
    """Zero a lane whose sound has died away (keeps denormals out of held voices)."""
    table = st.voice_table
    call_c(st.kernels[SETTLE], (table.ctypes.data, table.shape[0], v))


@njit(**INLINE)
def retune(st, v, gamma2, kappa, nu2, pickup, n_ramp):
    """Give lane v this string (normalised units; its losses the record st.losses), at once
    or ramped over n_ramp steps."""
    table = st.voice_table
    call_c(st.kernels[RETUNE], (table.ctypes.data, table.shape[0], v, gamma2, kappa,
                                st.losses.ctypes.data, nu2, pickup, n_ramp))


@njit(**INLINE)
def excite(st, v):
    """Start the excitation st.excitation describes on lane v now."""
    table = st.voice_table
    call_c(st.kernels[EXCITE], (table.ctypes.data, table.shape[0], v,
                                st.excitation.ctypes.data))


@njit(**INLINE)
def advance(st, n_steps, n_lanes, ramping):
    """Advance lanes [0, n_lanes) by n_steps, each lane's output into st.lane_out."""
    table, out = st.voice_table, st.lane_out
    call_c(st.kernels[ADVANCE], (table.ctypes.data, table.shape[0], n_steps, n_lanes,
                                 1 if ramping else 0, out.ctypes.data, out.shape[0],
                                 out.shape[1]))


@njit(**INLINE)
def end_ramps(st, n_lanes):
    """Stop the coefficient ramps of lanes [0, n_lanes) at the end of a block."""
    table = st.voice_table
    call_c(st.kernels[END_RAMPS], (table.ctypes.data, table.shape[0], n_lanes))


@njit(**INLINE)
def is_finite(st, v):
    """Whether lane v's state is finite."""
    table = st.voice_table
    return call_c_int(st.kernels[IS_FINITE], (table.ctypes.data, table.shape[0], v)) != 0


@njit(**INLINE)
def publish_modes(st, v, energies):
    """Lane v's energy per mode into `energies`; returns (q1, p1 / omega1, omega1)."""
    table, result = st.voice_table, st.published
    call_c(st.kernels[PUBLISH_MODES], (table.ctypes.data, table.shape[0], v,
                                       energies.ctypes.data, energies.shape[0],
                                       result.ctypes.data))
    return result[0], result[1], result[2]
