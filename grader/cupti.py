"""Capture a CUPTI trace of one call, through torch.profiler (Kineto), as a Chrome-trace dict.

The trace holds every kernel and copy the process ran, whichever library launched it (numba,
CuPy, torch), with its stream, start and duration; the host's CUDA API calls; synchronisation
events; named ranges (``torch.autograd.profiler.record_function``, which ``labs/*/kernels.stage``
emits next to its NVTX range); and, with ``with_stack``, the Python calls that issued them.
Perfetto (ui.perfetto.dev) and chrome://tracing open the JSON as it is.

Only a child process with a GPU imports this module: torch.profiler initialises CUPTI.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

RUN_RANGE = "cwb: run"  # the range around the traced call: the analysis's time window


def capture(
    fn: Callable[[], T], synchronize: Callable[[], None], with_stack: bool = True
) -> tuple[T, dict[str, Any]]:
    """Run ``fn`` once under the profiler; return its result and the trace.

    ``synchronize`` waits for the whole device before the profiler stops, so work the call left
    running is in the trace too.
    """
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    config = torch._C._profiler._ExperimentalConfig(enable_cuda_sync_events=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.json"
        with profile(
            activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA],
            with_stack=with_stack,
            experimental_config=config,
        ) as prof:
            with record_function(RUN_RANGE):
                result = fn()
            with record_function("cwb: device synchronise"):
                synchronize()
        prof.export_chrome_trace(str(path))
        trace = json.loads(path.read_text())
    return result, trace
