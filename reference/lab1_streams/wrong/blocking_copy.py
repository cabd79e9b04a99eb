# expect: partial
# zero-items: overlap sync
# mentions: copy_to_host
"""Known wrong (lab 1): the copy out is issued without a stream, so it is a plain, blocking
cudaMemcpy on the legacy default stream. The host waits for each chunk to finish before it
issues the next one: every copy and kernel runs one after the other.
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
            d_out.copy_to_host(h_out)  # no stream: blocks the host
    with stage("wait"):
        p.end.record()
        p.end.synchronize()  # the one host synchronisation, after everything is issued
    return p.start.elapsed_time(p.end)
