# expect: zero no_copy
"""Known wrong (lab 1): computes the output on the host (as host_compute.py does) behind a decoy:
it launches prepare_table on a stream so that a kernel ran, but nothing comes back from the
device. The grader counts the bytes each call copies from the device to the host: fewer than
the output holds means the output was not made on the GPU.
"""

import numpy as np
from numba import cuda

from labs.lab1_streams.kernels import TABLE_SIZE, prepare_table
from reference.lab1_streams.wrong.host_compute import host_pipeline


class Pipeline:
    def __init__(self, n: int, chunks: int, streams: int, work: int):
        self.work = work
        self.host_in = cuda.pinned_array(n, dtype=np.float32)
        self.host_out = cuda.pinned_array(n, dtype=np.float32)
        self.table = cuda.device_array(TABLE_SIZE, dtype=np.float32)
        self.stream = cuda.stream()


def setup(n: int, chunks: int, streams: int, work: int) -> Pipeline:
    return Pipeline(n, chunks, streams, work)


def run(p: Pipeline, gain: float) -> float:
    prepare_table(p.table, gain, p.work, p.stream)  # the decoy
    p.host_out[:] = host_pipeline(p.host_in, float(gain), p.work)
    p.stream.synchronize()
    return 1.0
