# expect: zero not_ready | nan | wrong_answer | unwritten
# needs: gpu
"""Known wrong (lab 1): returns as soon as everything is issued, before the last copies out have
landed. Reading the end event then fails (cudaErrorNotReady), and had it returned a number, the
host would have read an output that is not there yet.
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
    with stage("wait"):
        p.end.record()
    return p.start.elapsed_time(p.end)
