# expect: zero timeout
# needs: gpu
"""Known wrong (lab 1): a kernel that never ends, issued on a stream; run waits for it."""

import numpy as np
from numba import cuda


@cuda.jit
def spin(flag):
    while flag[0] == 0:
        pass


class Pipeline:
    def __init__(self, n):
        self.host_in = cuda.pinned_array(n, dtype=np.float32)
        self.host_out = cuda.pinned_array(n, dtype=np.float32)
        self.flag = cuda.to_device(np.zeros(1, dtype=np.int32))
        self.stream = cuda.stream()


def setup(n, n_chunks, n_streams, work):
    return Pipeline(n)


def run(p, gain):
    spin[1, 1, p.stream](p.flag)
    p.stream.synchronize()
    return 0.0
