"""Two low-level operations Numba does not offer, as LLVM intrinsics.

- `cycles()`: the CPU's cycle counter (llvm.readcyclecounter, RDTSC on x86), for timing the
  audio callback without a system call;
- `address_as_pointer(address)` and `pointer_as_address(pointer)`: between int64 addresses and
  void pointers, so compiled code can view arrays it is handed by address (the audio
  callback's pointer table);
- `call_c(address, arguments)` and `call_c_int(...)`: call the compiled C function at an int64
  `address` (a model kind's entry points), so compiled code can call code it never links.

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


def _c_value(context, builder, value, kind):
    """A value as the C ABI of the entry points takes it: int64, double or void*."""
    if kind is types.voidptr:
        return value, cgutils.voidptr_t
    if isinstance(kind, types.Float):
        return context.cast(builder, value, kind, types.float64), ir.DoubleType()
    return context.cast(builder, value, kind, types.int64), ir.IntType(64)


def _c_call(result):
    """An intrinsic calling the C function at an int64 address with a tuple of arguments
    (integers as int64, floats as double, void pointers), returning `result` (None: void)."""
    def typer(typingctx, address, arguments):
        if not (isinstance(address, types.Integer) and isinstance(arguments, types.BaseTuple)):
            return None
        signature = (result or types.void)(address, arguments)

        def codegen(context, builder, sig, args):
            values, kinds = [], []
            for i, kind in enumerate(sig.args[1]):
                value = builder.extract_value(args[1], i)
                value, c_kind = _c_value(context, builder, value, kind)
                values.append(value)
                kinds.append(c_kind)
            returns = ir.IntType(64) if result is not None else ir.VoidType()
            function_type = ir.FunctionType(returns, kinds)
            function = builder.inttoptr(args[0], function_type.as_pointer())
            value = builder.call(function, values)
            return value if result is not None else context.get_dummy_value()

        return signature, codegen

    return intrinsic(typer)


# call_c(address, arguments): call void f(...) at `address` with the tuple `arguments`;
# call_c_int(address, arguments): the same for int64 f(...). The entry points of a model kind
# (`synth.engine.kind_entries`) are called so, with no link to their code.
call_c = _c_call(None)
call_c_int = _c_call(types.int64)


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
