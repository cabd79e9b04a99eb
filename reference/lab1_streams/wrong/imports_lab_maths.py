# expect: zero forbidden
"""Known wrong (lab 1): no stream, no copy, no kernel; ``run`` evaluates the grader's own host
model of the output (labs.lab1_streams.maths.reference) and writes it into the output buffer.
The lab forbids importing maths.py (and lab.py, which holds it): it is the grader's side.
"""

import numpy as np
from numba import cuda

from labs.lab1_streams.maths import reference


class Pipeline:
    def __init__(self, n: int, chunks: int, streams: int, work: int):
        self.work = work
        self.host_in = cuda.pinned_array(n, dtype=np.float32)
        self.host_out = cuda.pinned_array(n, dtype=np.float32)


def setup(n: int, chunks: int, streams: int, work: int) -> Pipeline:
    return Pipeline(n, chunks, streams, work)


def run(p: Pipeline, gain: float) -> float:
    p.host_out[:] = reference(p.host_in, float(gain), p.work)
    return 1.0
