# expect: partial
"""Lab 1's serial baseline: what the pipeline is measured against.

Pageable host memory (plain numpy arrays), the whole array in one piece, everything on the
legacy default stream: copy in, kernel, copy out, one after the other. A copy from pageable
memory is staged by the driver through a pinned buffer of its own, so it is slower and blocks
the host until it is done.
"""

import numpy as np
from numba import cuda

from labs.lab1_streams.kernels import TABLE_SIZE, prepare_table, stage, transform


class Pipeline:
    def __init__(self, n: int, work: int):
        self.work = work
        self.host_in = np.empty(n, dtype=np.float32)  # pageable
        self.host_out = np.empty(n, dtype=np.float32)
        self.dev_in = cuda.device_array(n, dtype=np.float32)
        self.dev_out = cuda.device_array(n, dtype=np.float32)
        self.table = cuda.device_array(TABLE_SIZE, dtype=np.float32)
        self.start, self.end = cuda.event(), cuda.event()


def setup(n: int, n_chunks: int, n_streams: int, work: int) -> Pipeline:
    del n_chunks, n_streams  # one piece, one stream
    return Pipeline(n, work)


def run(p: Pipeline, gain: float) -> float:
    p.start.record()
    with stage("table"):
        prepare_table(p.table, gain, p.work)
    with stage("copy in"):
        p.dev_in.copy_to_device(p.host_in)
    with stage("kernel"):
        transform(p.dev_in, p.dev_out, p.table, p.work)
    with stage("copy out"):
        p.dev_out.copy_to_host(p.host_out)
    p.end.record()
    p.end.synchronize()
    return p.start.elapsed_time(p.end)
