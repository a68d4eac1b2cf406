"""Arrays by address: the pointer tables through which compiled C entry points (the audio
callback, a kind's kernel entries) find the arrays they work on.

A value is an array or a (named) tuple of values; `arrays` flattens it in field order and
`pointer_table` lists each array's address, shape and ndim, one int64 row each. The rebuilt
arrays are views (numba.carray) of the very memory the table points to; the caller keeps the
arrays alive while compiled code may use the table.

In compiled code the value's type is known from `register`, which records it from an example
and returns its `classes`: the NamedTuple classes it is made of, in field order.
`from_table(table, classes, dtype)` rebuilds a value of those classes whose float arrays are
of `dtype` (np.float32 or np.float64). Classes and dtype are plain constants, so the compiled
code that passes them (a cfunc over a closure of them) is found again in the cache.
"""

from __future__ import annotations

import numpy as np
from numba import carray, typeof
from numba.core import types
from numba.extending import overload
from numba.np.numpy_support import as_dtype

from synth.kernels.options import KERNEL
from synth.native import address_as_pointer

ROW = 5  # address, dims 0..2, ndim
_TYPES: dict[object, types.Type] = {}


def arrays(value) -> list[np.ndarray]:
    """Every array of `value` (nested tuples flattened), in field order."""
    if isinstance(value, np.ndarray):
        return [value]
    return [array for member in value for array in arrays(member)]


def pointer_table(value) -> np.ndarray:
    """(arrays, ROW) int64 rows of address, dims 0..2 and ndim, in `arrays` order; every
    array must be C-contiguous with at most 3 dimensions."""
    rows = []
    for array in arrays(value):
        if not array.flags.c_contiguous or array.ndim > 3:
            raise ValueError(f"an array of shape {array.shape} is not C-contiguous with at "
                             "most 3 dimensions")
        rows.append([array.ctypes.data, *array.shape, *[1] * (3 - array.ndim), array.ndim])
    return np.array(rows, dtype=np.int64).reshape(-1, ROW)


def classes(value) -> tuple[type, ...]:
    """The NamedTuple classes `value` is made of, itself first, in field order."""
    if isinstance(value, np.ndarray):
        return ()
    own = (type(value),) if hasattr(value, "_fields") else ()
    return own + tuple(cls for member in value for cls in classes(member))


def register(example, dtype) -> tuple[type, ...]:
    """Record the numba type of `example` (a NamedTuple of arrays) for rebuilding values made
    of the same classes whose float arrays are of `dtype`; returns those classes."""
    made_of = classes(example)
    key = (made_of, np.dtype(dtype).name)
    kind = typeof(example)
    known = _TYPES.setdefault(key, kind)
    if known != kind:
        raise TypeError(f"{key} stands for {known} already, not {kind}")
    return made_of


def from_table(table, classes, dtype):
    """The value made of `classes`, float arrays of `dtype`, whose arrays `table` (an int64
    (rows, ROW) array) describes (compiled code only; `register` first)."""
    raise TypeError("from_table runs in compiled code only")


@overload(from_table, jit_options={**KERNEL, "cache": False})
def _from_table_for(table, classes, dtype):
    made_of = tuple(member.instance_class for member in classes.types)
    return _rebuild_source(_TYPES[(made_of, str(dtype.instance_type))])


def _rebuild_source(value_type: types.Type):
    """A function (table, classes, dtype) -> value of `value_type`, each array a carray over
    the address and shape in its table row."""
    namespace = {"carray": carray, "address_as_pointer": address_as_pointer, "np": np}
    row = 0

    def build(member: types.Type) -> str:
        nonlocal row
        if isinstance(member, types.Array):
            shape = ", ".join(f"table[{row}, {d + 1}]" for d in range(member.ndim))
            text = (f"carray(address_as_pointer(table[{row}, 0]), ({shape},), "
                    f"np.{as_dtype(member.dtype).name})")
            row += 1
            return text
        inner = ", ".join(build(m) for m in member.types)
        if isinstance(member, types.BaseNamedTuple):
            name = f"class{len(namespace)}"
            namespace[name] = member.instance_class
            return f"{name}({inner})"
        return f"({inner},)"

    body = build(value_type)
    exec(f"def rebuild(table, classes, dtype):\n    return {body}\n", namespace)
    return namespace["rebuild"]
