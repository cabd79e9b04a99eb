# expect: partial
# zero-items: sync
# mentions: synchronize
"""Known wrong (lab 1): synchronises the chunk's stream after issuing it, "to be safe". The host
waits for every chunk before issuing the next, so the streams never overlap.
"""

from labs.lab1_streams.kernels import prepare_table, stage, transform
from reference.lab1_streams.solution import Pipeline, setup  # noqa: F401  (the reference's buffers)


def run(p: Pipeline, gain: float) -> float:
    # The legacy default stream waits for every blocking stream, and they for it: an event
    # recorded on it brackets the work of all streams.
    p.start.record()
    with stage("table"):
        prepare_table(p.table, gain, p.work, p.table_stream)
        p.table_ready.record(p.table_stream)
    with stage("issue chunks"):
        for i, (h_in, d_in, d_out, h_out) in enumerate(p.chunks):
            stream = p.streams[i % len(p.streams)]
            d_in.copy_to_device(h_in, stream=stream)
            p.table_ready.wait(stream)  # the cross-stream dependency: cudaStreamWaitEvent
            transform(d_in, d_out, p.table, p.work, stream)
            d_out.copy_to_host(h_out, stream=stream)
            stream.synchronize()
    with stage("wait"):
        p.end.record()
        p.end.synchronize()  # the one host synchronisation, after everything is issued
    return p.start.elapsed_time(p.end)
