"""Lab 1's arithmetic on the host, in plain numpy: what the given kernels compute, exactly.

The grader's parent process imports this (never numba): it makes the expected outputs.
"""

from __future__ import annotations

import math

import numpy as np

TABLE_SIZE = 4


def table_shift(work: int) -> int:
    """log2 of the step's divisor: 2 to 4 times ``work``, so ``work`` rounds shrink x by
    exp(-3 gain work / 2^shift), between 0.1 and 0.7, and the output still depends on x."""
    return max(1, math.ceil(math.log2(max(1, work)))) + 1


def host_table(gain: float, work: int) -> np.ndarray:
    """The table ``prepare_table`` writes, computed on the host: float32 (4,)."""
    gain32 = np.float32(gain)
    step = gain32 / np.float32(1 << table_shift(work))
    return np.array(
        [
            np.float32(1.0) - step * np.float32(2.0),
            step * np.float32(4.0),
            np.float32(1.0) - step,
            -step * np.float32(2.0),
        ],
        dtype=np.float32,
    )


def reference(x: np.ndarray, gain: float, work: int) -> np.ndarray:
    """What the pipeline must produce, in float64: the ``work`` rounds composed into one map.

    Each round is affine (v -> c1 (c0 v + d0) + d1), so ``work`` rounds are ``A v + B`` with
    A and B folded in float64 from the float32 table.
    """
    c0, d0, c1, d1 = (float(v) for v in host_table(gain, work))
    a, b = 1.0, 0.0
    for _ in range(work):
        a, b = c1 * c0 * a, c1 * (c0 * b + d0) + d1
    return a * x.astype(np.float64) + b


def error_scale(x: np.ndarray, gain: float, work: int) -> np.ndarray:
    """How far float32 rounding can take the result: one half-ulp per FMA, 2 * work of them.

    Each round pulls v towards the map's fixed point, about 2/3, so |v| stays below |x| + 1.
    """
    del gain
    return 2.0 * max(1, work) * 2.0**-24 * (np.abs(x.astype(np.float64)) + 1.0)
