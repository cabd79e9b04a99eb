"""Capture CUPTI traces of lab 1's pipelines on a GPU: the fixtures the tests analyse offline.

    python -m reference.lab1_streams.capture --out tests/fixtures/lab1 [--n 67108864]

First it measures what the balance depends on (pinned and pageable copy rates, the kernel's time
per unit of ``work``) and prints them; then, for the serial baseline, both reference solutions
and the lab's known-wrong pipelines, it checks one call's output, times a few calls across all
streams and writes one call's trace as ``<name>.json.gz`` (Perfetto opens it as it is).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from grader.cupti import capture
from grader.kinds.pipeline import check_buffers, load_inputs, timed_call
from labs.lab1_streams.lab import PIPELINE
from labs.lab1_streams.maths import error_scale, reference

ROOT = Path(__file__).resolve().parent
VARIANTS = [
    "serial",
    "solution",
    "breadth_first",
    "wrong/blocking_copy",
    "wrong/pageable",
    "wrong/single_stream",
    "wrong/sync_each_chunk",
    "wrong/missing_wait",
]


def load(name: str):
    path = ROOT / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name.replace("/", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def median_ms(fn, repeats: int = 5) -> float:
    from numba import cuda

    start, end = cuda.event(), cuda.event()
    times = []
    for _ in range(repeats):
        cuda.synchronize()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def measure_rates(n: int) -> dict[str, float]:
    """Copy rates (bytes/s) and the kernel's seconds per element per unit of work."""
    from numba import cuda

    from labs.lab1_streams import kernels

    nbytes = 4 * n
    pinned = cuda.pinned_array(n, dtype=np.float32)
    pageable = np.ones(n, dtype=np.float32)
    pinned[:] = 1.0
    dev = cuda.device_array(n, dtype=np.float32)
    out = cuda.device_array(n, dtype=np.float32)
    stream = cuda.stream()
    rates = {
        "pinned_h2d": nbytes / median_ms(lambda: dev.copy_to_device(pinned, stream=stream)) * 1e3,
        "pinned_d2h": nbytes / median_ms(lambda: dev.copy_to_host(pinned, stream=stream)) * 1e3,
        "pageable_h2d": nbytes / median_ms(lambda: dev.copy_to_device(pageable)) * 1e3,
        "pageable_d2h": nbytes / median_ms(lambda: dev.copy_to_host(pageable)) * 1e3,
    }
    table = cuda.device_array(4, dtype=np.float32)
    kernels.prepare_table(table, 1.0, 64)
    m = n // 16
    for work in (64, 256, 1024, 2048):
        ms = median_ms(lambda w=work: kernels.transform(dev[:m], out[:m], table, w, stream))
        rates[f"kernel_ms_chunk_work{work}"] = ms
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=1 << 26)
    parser.add_argument("--chunks", type=int, default=16)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--work", type=int, default=0, help="0: balance against pinned H2D")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    from numba import cuda

    from labs.lab1_streams import kernels

    args.out.mkdir(parents=True, exist_ok=True)
    rates = measure_rates(args.n)
    print(json.dumps({k: round(v, 4) for k, v in rates.items()}), flush=True)
    work = args.work
    if not work:
        # Kernel time per chunk grows linearly with work; match it to a chunk's pinned H2D.
        chunk_h2d_ms = 4 * args.n / args.chunks / rates["pinned_h2d"] * 1e3
        per_work = rates["kernel_ms_chunk_work2048"] / 2048
        work = max(8, round(chunk_h2d_ms / per_work / 8) * 8)
    print(f"work={work}", flush=True)
    rng = np.random.default_rng(7)
    x = rng.standard_normal(args.n, dtype=np.float32)
    summary = {
        "rates": rates,
        "work": work,
        "n": args.n,
        "chunks": args.chunks,
        "streams": args.streams,
        "variants": {},
    }
    for name in VARIANTS:
        if args.only and args.only not in name:
            continue
        module = load(name)
        p = module.setup(args.n, args.chunks, args.streams, work)
        check_buffers(PIPELINE, p, args.n)
        # Correctness of one plain call, then of a call with the table made slow.
        verdicts = {}
        for label, delay in (("plain", 0), ("slow table", 5_000_000)):
            gain = float(rng.uniform(0.5, 1.5))
            load_inputs(PIPELINE, p, x)
            kernels.set_table_delay(delay)
            module.run(p, gain)
            got = p.host_out.copy()
            cuda.synchronize()
            kernels.set_table_delay(0)
            expected = reference(x, gain, work)
            ratio = np.abs(got - expected) / error_scale(x, gain, work)
            verdicts[label] = float(np.nanmax(ratio)) if np.isfinite(got).all() else float("nan")
        calls = []
        for _ in range(6):
            load_inputs(PIPELINE, p, x)
            calls.append(timed_call(module.run, p, 1.0))
        calls = calls[1:]
        load_inputs(PIPELINE, p, x)
        t0 = time.perf_counter()
        _, trace = capture(
            functools.partial(module.run, p, 1.0), cuda.synchronize, with_stack=False
        )
        trace_s = time.perf_counter() - t0
        stem = name.split("/")[-1]
        with gzip.open(args.out / f"{stem}.json.gz", "wt") as f:
            json.dump(trace, f)
        cats: dict[str, int] = {}
        names: dict[str, set] = {}
        for e in trace.get("traceEvents", []):
            cat = e.get("cat", "?")
            cats[cat] = cats.get(cat, 0) + 1
            if cat not in ("python_function",):
                names.setdefault(cat, set()).add(e.get("name", "")[:60])
        row = {
            "error_over_tolerance": verdicts,
            "event_ms": [round(c.event_s * 1e3, 3) for c in calls],
            "host_ms": [round(c.host_s * 1e3, 3) for c in calls],
            "student_ms": [round(float(c.result), 3) for c in calls],
            "trace_wall_s": round(trace_s, 2),
            "categories": cats,
        }
        summary["variants"][name] = row
        print(name, json.dumps(row), flush=True)
        for cat, found in sorted(names.items()):
            print("   ", cat, sorted(found)[:25], flush=True)
    (args.out / "capture-summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    sys.exit(main())
