"""Lab 2's host-side arithmetic: matmul inputs, the float64 answer and a tolerance that grows
with K. Shared by the grader (labs/lab2_matmul/lab.py) and the benchmark harness
(reference/lab2_matmul/bench.py). numpy only: no GPU needed.
"""

from __future__ import annotations

import numpy as np

UNIT_ROUNDOFF = 2.0**-24  # float32: a rounding changes a value by at most this, relatively
TOLERANCE_FACTOR = 2.0  # headroom over the first-order bound below


def make_matrices(
    m: int, n: int, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A float32 (m, k) and B float32 (k, n), standard normal: C-contiguous."""
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    return a, b


def product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The exact-enough answer: float64 (m, n), from float64 copies of the inputs."""
    return a.astype(np.float64) @ b.astype(np.float64)


def error_bound(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float64 (m, n): how far a float32 result may be from :func:`product`, element-wise.

    Each of the K products and K additions behind C[i, j] rounds once, each time by at most
    2^-24 of a value no larger than sum_p |A[i, p] B[p, j]|. In whatever order the sum is
    taken (one thread's loop, tiles, split-K), the error is then at most about
    K * 2^-24 * (|A| @ |B|)[i, j]: the standard first-order bound, times a factor of 2. It grows
    with K, so the large cases are not held to the small cases' accuracy, and it is relative
    to |A| @ |B|, not to C, which may cancel to ~0. A kernel that skips a tile, reads a stale
    one or rounds through fp16 misses by far more (tests/test_lab2_maths.py).
    """
    k = a.shape[1]
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    return TOLERANCE_FACTOR * max(k, 1) * UNIT_ROUNDOFF * scale


def max_error_over_bound(out: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """max |out - product| / error_bound over all elements: <= 1 passes; NaN fails (inf)."""
    error = np.abs(out.astype(np.float64) - product(a, b))
    ratio = error / np.maximum(error_bound(a, b), np.finfo(np.float64).tiny)
    return float(np.max(ratio)) if np.isfinite(ratio).all() else float("inf")
