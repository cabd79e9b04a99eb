"""Lab 3 part B's output check, shared by the grader and the bench: is ``out`` exactly
``a * in + b`` in float32, and did the kernel write nothing outside ``out[0:n]``?

Exactly means: each element equals ``float32(float32(a*x) + b)`` (multiply and add rounded
separately), or is within one float32 ulp of ``float32(a*x + b)`` computed in float64 (what an
``fmaf`` gives, up to one float64 rounding). NaN never passes. Inputs are uniform in [-2, 2)
with a few spikes (large, tiny, negative), so a kernel that averages or samples is caught.
GPU only (CuPy), like the kernels it checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

A, B = np.float32(-1.37), np.float32(0.61)  # not exactly representable: the rounding matters
GUARD = 4096  # floats of guard on each side of an output (16 KiB: keeps 16-byte alignment)
GUARD_BITS = np.uint32(0x7FBADBAD)  # a NaN payload no kernel writes by accident
SPIKES = (3.0e7, -2.5e-30, -7.0e5)


# ------------------------------------------------------------------------------------------------
# The expected output, and the check (numpy or CuPy: `xp`)


def expected_pair(x, a: float = A, b: float = B):
    """(fused, separate): ``float32(a*x + b)`` computed in float64 (within one float32 ulp of
    ``fmaf``), and ``float32(float32(a*x) + b)`` (two roundings)."""
    a32, b32 = np.float32(a), np.float32(b)
    fused = (x.astype(np.float64) * np.float64(a32) + np.float64(b32)).astype(np.float32)
    separate = x * a32  # float32 (a float32 scalar keeps the dtype)
    separate += b32
    return fused, separate


def mismatches(out, fused, separate, xp=np):
    """Boolean mask of the elements that are neither ``separate`` nor within one float32 ulp
    of ``fused``; NaN is always a mismatch."""
    mag = xp.abs(fused)
    ulp = (xp.nextafter(mag, xp.float32(np.inf)) - mag).astype(xp.float64)  # CuPy: no spacing
    near = xp.abs(out.astype(xp.float64) - fused.astype(xp.float64)) <= ulp  # False for NaN
    return ~(near | (out == separate))


@dataclass
class Case:
    """One input on the device, with its expected outputs."""

    n: int
    x: Any
    fused: Any
    separate: Any


def make_case(n: int, seed: int) -> Case:
    """x uniform in [-2, 2) with a few spikes (large, tiny, negative), on the device."""
    import cupy

    rng = cupy.random.default_rng([seed, n])
    x = rng.uniform(-2.0, 2.0, n, dtype=cupy.float32)
    for i, v in enumerate(SPIKES):
        if n > i:
            x[(i * 7919 + n // 2) % n] = v
    fused, separate = expected_pair(x)
    return Case(n, x, fused, separate)


@dataclass
class Output:
    """A NaN-poisoned output of n floats between two guard regions."""

    buffer: Any
    n: int

    @classmethod
    def fresh(cls, n: int) -> Output:
        import cupy

        buffer = cupy.empty(n + 2 * GUARD, dtype=cupy.float32)
        buffer.view(cupy.uint32).fill(GUARD_BITS)
        buffer[GUARD : GUARD + n] = cupy.nan
        return cls(buffer, n)

    @property
    def view(self):
        return self.buffer[GUARD : GUARD + self.n]

    def guards_intact(self) -> bool:
        import cupy

        words = self.buffer.view(cupy.uint32)
        return bool(
            (words[:GUARD] == GUARD_BITS).all() and (words[GUARD + self.n :] == GUARD_BITS).all()
        )


def check(out: Output, case: Case) -> str | None:
    """None if ``out`` holds the right values with its guards intact, else why not."""
    import cupy

    if not out.guards_intact():
        return f"n={case.n}: wrote outside out[0:n] (guard words changed)"
    bad = mismatches(out.view, case.fused, case.separate, cupy)
    count = int(cupy.count_nonzero(bad))
    if count:
        i = int(cupy.argmax(bad.astype(cupy.int8)))  # the first mismatch
        got, want = float(out.view[i]), float(case.fused[i])
        return f"n={case.n}: {count} wrong, first out[{i}] = {got!r}, expected {want!r}"
    return None
