"""Cache-line aligned arrays for the kernels.

AVX-512 loads that straddle two 64-byte cache lines cost about twice as much, and whether a
NumPy array happens to be aligned changes from one process to the next. Kernel tables, state
and scratch are therefore allocated on 64-byte boundaries with rows padded to whole lines.
"""

import numpy as np
from numba import njit

from synth.kernels.options import INLINE

ALIGNMENT = 64  # bytes: one cache line, one AVX-512 register


def padded(n: int, dtype) -> int:
    """n rounded up to a whole number of cache lines of `dtype` elements."""
    per_line = ALIGNMENT // np.dtype(dtype).itemsize
    return -(-n // per_line) * per_line


def aligned_zeros(shape, dtype=np.float64) -> np.ndarray:
    """Zeros of `shape` whose first element sits on a 64-byte boundary."""
    shape = (shape,) if np.isscalar(shape) else tuple(shape)
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    raw = np.zeros(size + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + size].view(dtype).reshape(shape)


def aligned_table(values: np.ndarray, dtype=np.float64) -> np.ndarray:
    """A copy of a 2-D table with each row padded with zeros to whole cache lines."""
    values = np.asarray(values, dtype=dtype)
    rows, cols = values.shape
    table = aligned_zeros((rows, padded(cols, dtype)), dtype)
    table[:, :cols] = values
    return table


@njit(**INLINE)
def whole_vectors(n_lanes, lanes):
    """n_lanes rounded up to whole vector registers of `lanes`' elements, at most its last
    axis (the lanes; idle lanes sit at rest and output zero): lane loops run fastest so."""
    width = ALIGNMENT // lanes.itemsize  # float32: 16 lanes per AVX-512 register
    return min(-(-n_lanes // width) * width, lanes.shape[-1])
