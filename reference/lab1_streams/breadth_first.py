# expect: full
"""Lab 1, breadth-first: chunks go in waves of one chunk per stream; in each wave every copy in
is issued, then every kernel, then every copy out.

Why waves: work in one stream runs in issue order. Issuing all 16 copies in before any kernel,
on 4 streams, would put chunk 12's copy in ahead of chunk 0's kernel in stream 0, and nothing
would overlap (the trace of that version showed 1.01 engines busy on average). Within a wave
each stream holds one chunk, so the order only changes what the engines' queues see.

On a GPU with one queue per engine (Fermi), issue order decided how much overlapped: a copy out
queued depth-first behind the next chunk's copy in could block it. Hopper has many hardware
queues; the trace shows whether the order still matters.
"""

from labs.lab1_streams.kernels import prepare_table, stage, transform
from reference.lab1_streams import solution


class Pipeline(solution.Pipeline):
    """The reference's buffers, streams and events, with the chunks grouped into waves."""

    def __init__(self, n: int, n_chunks: int, n_streams: int, work: int):
        super().__init__(n, n_chunks, n_streams, work)
        self.waves = [
            list(zip(self.streams, self.chunks[i : i + n_streams], strict=False))
            for i in range(0, len(self.chunks), n_streams)
        ]


def setup(n: int, n_chunks: int, n_streams: int, work: int) -> Pipeline:
    return Pipeline(n, n_chunks, n_streams, work)


def run(p: Pipeline, gain: float) -> float:
    p.start.record()
    with stage("table"):
        prepare_table(p.table, gain, p.work, p.table_stream)
        p.table_ready.record(p.table_stream)
    for stream in p.streams:
        p.table_ready.wait(stream)  # the copies in wait too: the table takes a microsecond
    for number, wave in enumerate(p.waves):
        with stage(f"wave {number}"):
            for stream, (h_in, d_in, _, _) in wave:
                d_in.copy_to_device(h_in, stream=stream)
            for stream, (_, d_in, d_out, _) in wave:
                transform(d_in, d_out, p.table, p.work, stream)
            for stream, (_, _, d_out, h_out) in wave:
                d_out.copy_to_host(h_out, stream=stream)
    with stage("wait"):
        p.end.record()
        p.end.synchronize()
    return p.start.elapsed_time(p.end)
