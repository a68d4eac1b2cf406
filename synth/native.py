"""Two low-level operations Numba does not offer, as LLVM intrinsics.

- `cycles()`: the CPU's cycle counter (llvm.readcyclecounter, RDTSC on x86), for timing the
  audio callback without a system call;
- `address_as_pointer(address)` and `pointer_as_address(pointer)`: between int64 addresses and
  void pointers, so compiled code can view arrays it is handed by address (the audio
  callback's pointer table).

`tsc_frequency()` calibrates the counter against the monotonic clock.
"""

from __future__ import annotations

import functools
import time

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def _read_cycle_counter(typingctx):
    signature = types.int64()

    def codegen(context, builder, sig, args):
        function_type = ir.FunctionType(ir.IntType(64), [])
        counter = cgutils.get_or_insert_function(builder.module, function_type,
                                                 "llvm.readcyclecounter")
        return builder.call(counter, [])

    return signature, codegen


@intrinsic
def address_as_pointer(typingctx, address):
    """View an int64 address as a void pointer (for numba.carray)."""
    if not isinstance(address, types.Integer):
        return None
    signature = types.voidptr(address)

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return signature, codegen


@intrinsic
def pointer_as_address(typingctx, pointer):
    """A void pointer as an int64 address."""
    if pointer is not types.voidptr:
        return None
    signature = types.int64(pointer)

    def codegen(context, builder, sig, args):
        return builder.ptrtoint(args[0], ir.IntType(64))

    return signature, codegen


@njit(cache=True)
def cycles():
    """The CPU cycle counter (int64)."""
    return _read_cycle_counter()


@functools.cache
def tsc_frequency(seconds: float = 0.05) -> float:
    """Cycles per second of `cycles()`, measured once per process against perf_counter."""
    cycles()  # compile
    start_clock, start_cycles = time.perf_counter(), cycles()
    while time.perf_counter() - start_clock < seconds:
        pass
    return (cycles() - start_cycles) / (time.perf_counter() - start_clock)
