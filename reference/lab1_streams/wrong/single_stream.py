# expect: partial
# zero-items: overlap
"""Known wrong (lab 1): pinned memory and async copies, but a single stream. Work in one stream
runs in order, so nothing overlaps even though the host never blocks.
"""

from reference.lab1_streams.solution import Pipeline, run  # noqa: F401  (the reference's run)


def setup(n: int, n_chunks: int, n_streams: int, work: int) -> Pipeline:
    return Pipeline(n, n_chunks, 1, work)  # n_streams ignored: one stream for every chunk
