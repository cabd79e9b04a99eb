"""How far a float32 matmul may be from the exact product: a bound that grows with K.

``C[i, j] = sum_k A[i, k] * B[k, j]`` computed in float32 takes K multiply-adds. Each rounds the
running sum once, with a relative error of at most u = 2**-24 (float32's unit roundoff), and the
running sum is never larger than ``sum_k |A[i, k]| * |B[k, j]|``; so, whatever the order of the
sum (a kernel's tiling, cuBLAS's split-K), ::

    |C_fp32[i, j] - C_exact[i, j]| <= K * u * (|A| @ |B|)[i, j]      (to first order in u)

(Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., section 3.5). Scaling by
``|A| @ |B|`` rather than by ``|C|`` keeps the bound honest where terms cancel and C is near 0.
We allow ``FACTOR = 4`` times that: slack for the float64 reference (its own error is K * 2**-53
relative, negligible) and for kernels that round twice per step (a multiply then an add). A
wrong index, a missed tile or a race is off by O(1) relative, far outside; TF32 (10-bit
mantissa, 2**-11 per product) fails it at small K, which is why the odd, small-K shapes are
checked first.

Works on NumPy arrays, and on CuPy arrays (or anything with ``__cuda_array_interface__``) on
the device, where the float64 products run through cuBLAS. CuPy is imported only for those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

UNIT_ROUNDOFF = 2.0**-24  # float32: half the distance from 1 to the next float
FACTOR = 4.0
# Floor on the tolerance, so an exact 0 (a zero row of A) compares with 0: the smallest normal
# float32. Subnormal rounding adds at most 2**-149 per step, far below it for any K < 2**23.
TINY = float(np.finfo(np.float32).tiny)


def array_module(*arrays: Any):
    """``numpy``, or ``cupy`` when any of the arrays lives on the device."""
    for x in arrays:
        if isinstance(x, np.ndarray):
            continue
        if type(x).__module__.split(".")[0] == "cupy" or hasattr(x, "__cuda_array_interface__"):
            import cupy

            return cupy
    return np


def _as_xp(xp, x):
    """x as an array of module xp, copying between host and device where they differ."""
    if xp is np and not isinstance(x, np.ndarray) and array_module(x) is not np:
        import cupy

        return cupy.asnumpy(cupy.asarray(x))
    return xp.asarray(x)


def matmul_error_scale(a, b):
    """``|a| @ |b|`` in float64: what each entry's rounding error is measured against."""
    xp = array_module(a, b)
    a, b = _as_xp(xp, a), _as_xp(xp, b)
    return xp.abs(a.astype(xp.float64)) @ xp.abs(b.astype(xp.float64))


def reference_matmul(a, b):
    """``a @ b`` in float64 (exact to ~K * 2**-53 relative, for float32 inputs)."""
    xp = array_module(a, b)
    a, b = _as_xp(xp, a), _as_xp(xp, b)
    return a.astype(xp.float64) @ b.astype(xp.float64)


def matmul_tolerance(a, b, factor: float = FACTOR):
    """Per-entry bound on ``|out - a @ b|``: ``factor * K * 2**-24 * (|a| @ |b|) + TINY``."""
    k = a.shape[-1]
    return factor * k * UNIT_ROUNDOFF * matmul_error_scale(a, b) + TINY


@dataclass(frozen=True)
class MatmulReference:
    """The float64 product of (a, b) and the tolerance of each entry, computed once per input
    pair and reused for every candidate output (they are the expensive part at 4096^3)."""

    ref: Any  # float64 (M, N), numpy or cupy
    tol: Any  # float64 (M, N), same module

    def error_over_tolerance(self, out) -> float:
        """max |out - ref| / tol over all entries: <= 1 passes. NaN or inf in out gives inf."""
        xp = array_module(self.ref)
        out = _as_xp(xp, out)
        if out.shape != self.ref.shape:
            raise ValueError(f"out has shape {out.shape}, expected {self.ref.shape}")
        if out.size == 0:
            return 0.0
        ratio = xp.abs(out.astype(xp.float64) - self.ref) / self.tol
        ratio = xp.where(xp.isnan(ratio), xp.inf, ratio)
        return float(ratio.max())

    def worst_entry(self, out) -> tuple[int, int]:
        """(row, column) of the entry furthest outside its tolerance."""
        xp = array_module(self.ref)
        ratio = xp.abs(_as_xp(xp, out).astype(xp.float64) - self.ref) / self.tol
        ratio = xp.where(xp.isnan(ratio), xp.inf, ratio)
        flat = int(ratio.argmax())
        return divmod(flat, self.ref.shape[1])


def matmul_reference(a, b, factor: float = FACTOR) -> MatmulReference:
    """Reference and tolerances for ``out = a @ b``; a (M, K), b (K, N), float32."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"shapes {a.shape} and {b.shape} do not multiply")
    return MatmulReference(reference_matmul(a, b), matmul_tolerance(a, b, factor))


def max_error_over_tolerance(out, a, b, factor: float = FACTOR) -> float:
    """max over entries of ``|out - a @ b| / (factor * K * 2**-24 * (|a| @ |b|) + TINY)``.

    a (M, K), b (K, N) and out (M, N); NumPy arrays, or device arrays (then computed there).
    At most 1 means out is a correct float32 product. Recomputes the reference: to check many
    outputs of the same inputs, build :func:`matmul_reference` once.
    """
    return matmul_reference(a, b, factor).error_over_tolerance(out)
