"""Running a lab-1 style pipeline submission: ``setup(...)`` once, then ``run(p, gain)`` calls.

Used by the child harness and by ``reference/lab1_streams/capture.py``. The submission's
``setup`` returns an object whose ``host_in`` and ``host_out`` are float32 numpy arrays of the
problem's size, in host memory of the submission's choosing (pinned or not: that is graded);
the harness writes the input into ``host_in`` and NaN into ``host_out`` before every call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np


class PipelineContractError(TypeError):
    """The object ``setup`` returned does not carry the buffers the harness needs."""


def check_buffers(pipeline: Any, n: int) -> None:
    for name in ("host_in", "host_out"):
        buffer = getattr(pipeline, name, None)
        if not isinstance(buffer, np.ndarray):
            kind = type(buffer).__name__ if buffer is not None else "nothing"
            raise PipelineContractError(
                f"setup must return an object with a `{name}` attribute holding a numpy array "
                f"(cuda.pinned_array(n, dtype=np.float32)); it has {kind}"
            )
        if buffer.dtype != np.float32 or buffer.shape != (n,) or not buffer.flags.c_contiguous:
            raise PipelineContractError(
                f"`{name}` must be a contiguous float32 array of shape ({n},); it is "
                f"{buffer.dtype} {buffer.shape}"
            )


def load_inputs(pipeline: Any, x: np.ndarray) -> None:
    """Write the call's input and poison the output (NaN), both on the host."""
    pipeline.host_in[:] = x
    pipeline.host_out[:] = np.nan


@dataclass
class TimedCall:
    result: Any  # what run() returned: the student's own elapsed milliseconds
    event_s: float  # events on the legacy default stream around the call and a device sync
    host_s: float  # the host's clock around the call alone


def timed_call(run: Any, pipeline: Any, gain: float) -> TimedCall:
    """One call of ``run``, timed across every stream.

    The device is idle when the start event is recorded; the end event is recorded after a
    device-wide synchronise, so it also counts work the call left running on any stream.
    """
    from numba import cuda

    start, end = cuda.event(), cuda.event()
    cuda.synchronize()
    start.record()
    started = time.perf_counter()
    result = run(pipeline, gain)
    host_s = time.perf_counter() - started
    cuda.synchronize()
    end.record()
    end.synchronize()
    return TimedCall(result, start.elapsed_time(end) / 1e3, host_s)
