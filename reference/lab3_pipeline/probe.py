"""A quick look at lab 3 part B on a GPU, step by step, each step reported on its own line so a
failure says exactly which API did not work (seconds; run it before the tests and the bench):

    python -m reference.lab3_pipeline.probe

1. the device and the launch configuration; 2. each version of pipeline.cu and the solution
built, launched once on n = 1_000_003 and checked (the tensor map made for v4); 3. a pointer
chase of each kind. Exit code 0 when every step passed.
"""

from __future__ import annotations

import sys
import time
import traceback


def main() -> int:
    import cupy

    from labs.lab3_pipeline import latency
    from labs.lab3_pipeline.launch import async_copy_kinds, device_props, launch_config
    from reference.lab3_pipeline.bench import Output, check, launcher, make_case
    from reference.lab3_pipeline.ladder import SOLUTION, STUDENT, VERSIONS, build

    failures = 0
    props = device_props()
    cc = props["major"] * 10 + props["minor"]
    print(f"device: sm_{cc}, {props}", flush=True)
    config = launch_config(props, 4, 4096)
    print(f"launch: {config}", flush=True)
    case = make_case(1_000_003, seed=0)

    targets = [(v, None) for v in VERSIONS if cc >= v.min_cc] + [(STUDENT, SOLUTION)]
    for version, source in targets:
        label = version.label if source is None else f"solution ({source.name})"
        t0 = time.perf_counter()
        try:
            kernel = build(version, 4, 1024, source=source)
            kinds = sorted(async_copy_kinds(kernel.ptx, None if source else version.name))
            out = Output.fresh(case.n)
            launcher(kernel, config)(case.x, out.view, case.n)
            cupy.cuda.get_current_stream().synchronize()
            problem = check(out, case)
        except Exception:
            failures += 1
            print(f"FAIL {label}:\n{traceback.format_exc()}", flush=True)
            continue
        ms = 1e3 * (time.perf_counter() - t0)
        status = "ok  " if problem is None else "FAIL"
        failures += problem is not None
        print(f"{status} {label}: {kinds} {problem or ''} ({ms:.0f} ms)", flush=True)

    for kind, size, steps in (
        ("pages", 1 << 30, 4096),
        ("random", 1 << 30, 4096),
        ("cycle", 2 << 20, 1 << 14),
    ):
        try:
            lat = latency.measure_latency(kind, size, steps, repeats=2)
            print(f"ok   chase {kind}: {lat.ns:.0f} ns", flush=True)
        except Exception:
            failures += 1
            print(f"FAIL chase {kind}:\n{traceback.format_exc()}", flush=True)
    print(f"{failures} failure(s)", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
