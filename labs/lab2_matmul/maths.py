"""Lab 2's matmul inputs (numpy only, no GPU). The answer and its tolerance, which grows with
K, are in :mod:`labs.lab2_matmul.tolerance`, shared by the grader and the benchmark harness."""

from __future__ import annotations

import numpy as np


def make_matrices(
    m: int, n: int, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A float32 (m, k) and B float32 (k, n), standard normal, C-contiguous."""
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    return a, b
