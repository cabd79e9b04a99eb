"""Lab 2's matmul tolerance (labs/lab2_matmul/tolerance.py): it grows with K, passes float32
products computed in any order, and fails the mistakes a kernel makes (a skipped tile,
low-precision inputs)."""

from __future__ import annotations

import numpy as np
import pytest

from labs.lab2_matmul import maths, tolerance


@pytest.mark.parametrize("k", [1, 7, 77, 1000, 4099])
def test_float32_products_in_any_order_pass(k: int) -> None:
    rng = np.random.default_rng(k)
    a, b = maths.make_matrices(9, 11, k, rng)
    sequential = np.zeros((9, 11), dtype=np.float32)
    for p in range(k):  # one thread's loop: K roundings of a running float32 sum
        sequential += a[:, p : p + 1] * b[p : p + 1, :]
    blas = a @ b  # blocked, vectorised: another order
    assert tolerance.max_error_over_tolerance(sequential, a, b) <= 1.0
    assert tolerance.max_error_over_tolerance(blas, a, b) <= 1.0


def test_the_bound_grows_with_k() -> None:
    rng = np.random.default_rng(0)
    a, b = maths.make_matrices(4, 4, 4096, rng)
    small = tolerance.matmul_tolerance(a[:, :64], b[:64, :])
    large = tolerance.matmul_tolerance(a, b)
    # K * sum|a b|: 64x more terms and 64x more roundings, so ~4096x larger.
    assert 2000 < float(np.median(large / small)) < 8000


def test_a_skipped_tile_fails() -> None:
    rng = np.random.default_rng(1)
    a, b = maths.make_matrices(64, 64, 1024, rng)
    skipped = (a[:, 32:] @ b[32:, :]).astype(np.float32)  # forgot the first 32-wide tile
    assert tolerance.max_error_over_tolerance(skipped, a, b) > 1.0


def test_inputs_rounded_to_ten_bits_fail() -> None:
    rng = np.random.default_rng(2)
    a, b = maths.make_matrices(32, 32, 128, rng)
    rounded = (np.round(a * 1024) / 1024) @ (np.round(b * 1024) / 1024)
    assert tolerance.max_error_over_tolerance(rounded.astype(np.float32), a, b) > 1.0


def test_nan_never_passes() -> None:
    rng = np.random.default_rng(3)
    a, b = maths.make_matrices(3, 3, 3, rng)
    out = (a @ b).astype(np.float32)
    out[1, 1] = np.nan
    assert tolerance.max_error_over_tolerance(out, a, b) == float("inf")
