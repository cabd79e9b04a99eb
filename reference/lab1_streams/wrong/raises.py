# expect: zero exception
"""Known wrong (lab 1): raises inside run."""


class Pipeline:
    def __init__(self, n):
        import numpy as np

        self.host_in = np.empty(n, dtype=np.float32)
        self.host_out = np.empty(n, dtype=np.float32)


def setup(n, n_chunks, n_streams, work):
    return Pipeline(n)


def run(p, gain):
    raise RuntimeError("chunk bookkeeping went wrong")
