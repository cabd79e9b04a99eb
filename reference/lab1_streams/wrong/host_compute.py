# expect: zero no_kernel
"""Known wrong (lab 1): no stream, no copy, no kernel. ``run`` evaluates the kernels' arithmetic
on the host in numpy (written out here, the way a student could copy it from kernels.py) and
writes the answer into the output buffer. Right values, but nothing ran on the GPU; the grader
counts each call's kernel launches (and, on a GPU, traces the timed calls) and fails it.
"""

import math

import numpy as np
from numba import cuda


class Pipeline:
    def __init__(self, n: int, chunks: int, streams: int, work: int):
        self.work = work
        self.host_in = cuda.pinned_array(n, dtype=np.float32)
        self.host_out = cuda.pinned_array(n, dtype=np.float32)


def setup(n: int, chunks: int, streams: int, work: int) -> Pipeline:
    return Pipeline(n, chunks, streams, work)


def host_pipeline(x: np.ndarray, gain: float, work: int) -> np.ndarray:
    """What transform computes, on the host: ``work`` rounds of two affine steps."""
    shift = max(1, math.ceil(math.log2(max(1, work)))) + 1
    step = np.float32(gain) / np.float32(1 << shift)
    c0, d0 = np.float32(1.0) - step * np.float32(2.0), step * np.float32(4.0)
    c1, d1 = np.float32(1.0) - step, -step * np.float32(2.0)
    v = x.astype(np.float64)
    for _ in range(work):
        v = (v * c0 + d0) * c1 + d1
    return v


def run(p: Pipeline, gain: float) -> float:
    p.host_out[:] = host_pipeline(p.host_in, float(gain), p.work)
    return 1.0
