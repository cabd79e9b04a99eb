# expect: zero syntax_error
"""Known wrong (lab 1): does not parse."""

from numba import cuda


def setup(n, n_chunks, n_streams, work)
    return cuda.stream()
