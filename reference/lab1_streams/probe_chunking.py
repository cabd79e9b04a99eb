"""Where lab 1's host issue time goes, and which chunking gets a reference near its bound.

    python -m reference.lab1_streams.probe_chunking      (on a GPU; ~30 s)

Prints numba's host cost per call (copies, event record and wait, the launch helper, a plain
configured launch, a direct launch of the compiled kernel, slicing a device array), then for
each (n, chunks) the depth-first and breadth-first references' median time and one CUPTI
trace's span over the lower bound, with and without the grader's call log. It is how lab 1's
benchmark size was chosen (docs/gpu-runs.md, 2026-11-22).
"""

import contextlib
import functools
import json
import statistics
import time
from pathlib import Path

import numpy as np
from numba import cuda

import reference.lab1_streams.breadth_first as bf
import reference.lab1_streams.solution as sol
from grader.calllog import CallLog
from grader.cupti import capture
from grader.kinds.pipeline import load_inputs, timed_call
from grader.trace import summarize
from labs.lab1_streams import kernels
from labs.lab1_streams.lab import PIPELINE


def host_us(fn, reps=256, every=16):
    t = []
    for i in range(reps):
        if i % every == 0:
            cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    cuda.synchronize()
    return round(statistics.median(t) * 1e6, 1)


def probe_host_costs() -> None:
    """Median host microseconds per numba call, on 2M-element chunks."""
    m = 1 << 21
    h = cuda.pinned_array(m, dtype=np.float32)
    h[:] = 1
    d = cuda.device_array(m, dtype=np.float32)
    o = cuda.device_array(m, dtype=np.float32)
    tab = cuda.device_array(4, dtype=np.float32)
    s = cuda.stream()
    ev = cuda.event()
    kernels.prepare_table(tab, 1.0, 1, s)
    kernels.transform(d, o, tab, 1, s)
    cuda.synchronize()
    k = next(iter(kernels.transform_kernel.overloads.values()))
    blocks = (m + 255) // 256
    costs = {
        "h2d": host_us(lambda: d.copy_to_device(h, stream=s)),
        "d2h": host_us(lambda: o.copy_to_host(h, stream=s)),
        "event.record": host_us(lambda: ev.record(s)),
        "event.wait": host_us(lambda: ev.wait(s)),
        "transform(helper)": host_us(lambda: kernels.transform(d, o, tab, 1, s)),
        "kernel[cfg](...)": host_us(lambda: kernels.transform_kernel[blocks, 256, s](d, o, tab, 1)),
        "overload.launch": host_us(
            lambda: k.launch((d, o, tab, 1), (blocks, 1, 1), (256, 1, 1), s, 0)
        ),
        "d[lo:hi] slice": host_us(lambda: d[5:m]),
    }
    print("host_us", json.dumps(costs), flush=True)


CL = None


def trial(mod, n, chunks, streams=4, work=256, log=False) -> None:
    """One reference at one chunking: median of 10 timed calls, one trace's span / bound."""
    p = mod.setup(n, chunks, streams, work)
    x = np.random.default_rng(1).standard_normal(n, dtype=np.float32)
    load_inputs(PIPELINE, p, x)
    for _ in range(3):
        mod.run(p, 1.0)
    ev = []
    for _ in range(10):
        ev.append(timed_call(mod.run, p, 1.0).event_s * 1e3)
    global CL
    cl = CallLog(Path(mod.__file__))
    if log and CL is None:
        cl.install()
        CL = cl
    cl = CL or cl
    with cl.record() if log else contextlib.nullcontext():
        _, tr = capture(functools.partial(mod.run, p, 1.0), cuda.synchronize, with_stack=False)
    sm = summarize(tr)
    r = dict(
        mod=mod.__name__.split(".")[-1],
        n=n,
        chunks=chunks,
        work=work,
        log=log,
        median_ms=round(statistics.median(ev), 3),
        min_ms=round(min(ev), 3),
        trace_span_ms=round(sm.span_us / 1e3, 3),
        bound_ms=round(sm.bound_us / 1e3, 3),
        over_bound=round(sm.over_bound, 3),
        ideal_ms=round(sm.ideal_us / 1e3, 3),
    )
    print("trial", json.dumps(r), flush=True)
    del p
    cuda.synchronize()


def main() -> None:
    probe_host_costs()
    for n, chunks in [(1 << 25, 16), (1 << 25, 8), (1 << 26, 16), (1 << 26, 8)]:
        for mod in (sol, bf):
            trial(mod, n, chunks)
    trial(sol, 1 << 25, 16, log=True)
    trial(sol, 1 << 25, 8, log=True)


if __name__ == "__main__":
    main()
