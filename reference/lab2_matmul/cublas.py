"""The ceiling lab 2 is measured against: cuBLAS SGEMM through CuPy, in true fp32.

``matmul(a, b, out)`` takes the student's arguments (any arrays with a CUDA array interface:
a float32 (M, K), b float32 (K, N), out float32 (M, N), C-contiguous) and returns ``out``.
It runs on the legacy default stream, as numba's launches do, so it is ordered with them.
GPU only.
"""

from __future__ import annotations

import os


def matmul(a, b, out):
    """``out = a @ b`` by cuBLAS; refuses TF32, which would make the ceiling ~8x too high."""
    import cupy

    # CuPy uses TF32 tensor cores for float32 only when CUPY_TF32=1: a fp32 kernel would then
    # be compared with a 10-bit-mantissa product, several times faster and not the same maths.
    if os.environ.get("CUPY_TF32", "0") != "0":
        raise RuntimeError("CUPY_TF32 is set: the fp32 ceiling must not use TF32; unset it")
    cupy.matmul(cupy.asarray(a), cupy.asarray(b), out=cupy.asarray(out))
    return out
