"""Lab 1: overlap copies with compute using streams and events. Edit this file; `make lab1`
grades it. Read labs/lab1_streams/README.md first.

The grader calls, once:

    p = setup(n, chunks, streams, work)      # untimed: allocate everything here

and then, many times:

    ms = run(p, gain)                        # timed across every stream

Before every call it writes the input into ``p.host_in`` and NaN into ``p.host_out``; the
moment ``run`` returns it reads ``p.host_out``, which must hold ``f(p.host_in)`` for this gain.
``run`` returns the milliseconds it measured with its own CUDA events.
"""

import numpy as np


class Pipeline:
    """Everything a run needs, made once in setup."""

    def __init__(self, n: int, chunks: int, streams: int, work: int):
        self.work = work
        # FILL ME IN:
        #   host_in, host_out  float32 arrays of shape (n,) in PINNED host memory
        #                      (cuda.pinned_array): the grader reads and writes them;
        #   device buffers for the input and the output (cuda.device_array);
        #   the table: cuda.device_array(TABLE_SIZE, dtype=np.float32);
        #   `streams` streams (cuda.stream()), and one more for prepare_table;
        #   events: one to mark "table ready", two to time the run (cuda.event());
        #   the chunk boundaries: `chunks` pieces covering 0..n (n may not divide evenly).
        self.host_in = np.zeros(n, dtype=np.float32)  # FILL ME IN: pinned, not pageable
        self.host_out = np.zeros(n, dtype=np.float32)  # FILL ME IN: pinned, not pageable


def setup(n: int, chunks: int, streams: int, work: int) -> Pipeline:
    return Pipeline(n, chunks, streams, work)


def run(p: Pipeline, gain: float) -> float:
    """Run the pipeline once; return the elapsed milliseconds your events measured."""
    # FILL ME IN:
    #   1. record the start event on the default stream (it brackets every stream's work);
    #   2. prepare_table(p.table, gain, p.work, table_stream), then record "table ready" on
    #      that stream;
    #   3. for each chunk, on stream i % streams: copy the chunk in (copy_to_device with
    #      stream=...), make the stream wait for "table ready" (event.wait(stream)), launch
    #      transform(...) on the chunk with stream=..., copy the chunk out (copy_to_host with
    #      stream=...). Wrap the phases in `with stage("..."):` to name them in the timeline;
    #   4. record the end event, synchronise on it (once, after everything is issued), and
    #      return start.elapsed_time(end).
    raise NotImplementedError("run is not written yet: fill in Pipeline and run")
