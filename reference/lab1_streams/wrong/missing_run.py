# expect: zero missing_function
"""Known wrong (lab 1): has setup but no run."""

import numpy as np


class Pipeline:
    def __init__(self, n):
        self.host_in = np.empty(n, dtype=np.float32)
        self.host_out = np.empty(n, dtype=np.float32)


def setup(n, n_chunks, n_streams, work):
    return Pipeline(n)
