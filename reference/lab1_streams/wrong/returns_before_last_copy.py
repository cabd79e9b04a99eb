# expect: zero race | nan | unwritten
# needs: gpu
"""Known wrong (lab 1): waits for every stream but the one that copied the last chunk out, so
run returns while that copy may still be running. The output is often whole anyway (the last
copy is short and started early): only the trace, which shows a copy to the host ending after
run returned, tells that this was luck.
"""

import time

from labs.lab1_streams.kernels import prepare_table, stage, transform
from reference.lab1_streams.solution import Pipeline, setup  # noqa: F401  (the reference's buffers)


def run(p: Pipeline, gain: float) -> float:
    started = time.perf_counter()
    with stage("table"):
        prepare_table(p.table, gain, p.work, p.table_stream)
        p.table_ready.record(p.table_stream)
    last = None
    with stage("issue chunks"):
        for i, (h_in, d_in, d_out, h_out) in enumerate(p.chunks):
            stream = p.streams[i % len(p.streams)]
            d_in.copy_to_device(h_in, stream=stream)
            p.table_ready.wait(stream)
            transform(d_in, d_out, p.table, p.work, stream)
            d_out.copy_to_host(h_out, stream=stream)
            last = stream
    with stage("wait"):
        for stream in p.streams:
            if stream is not last:
                stream.synchronize()
    return (time.perf_counter() - started) * 1e3
