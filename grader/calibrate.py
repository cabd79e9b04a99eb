"""`cwb calibrate` (GPU only): can the grader's timer and scores be trusted?

1. The grader's timer against ``triton.testing.do_bench`` (median, cold) on kernels from a
   few microseconds to milliseconds: the ratio of the two medians, per kernel.
2. The same submission graded several times, each a full grading with the reference re-timed:
   the spread of its score and of its median time.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

import labs
from grader.runner import Grader, Options
from grader.timing import EventTimer, StopRule

SPREAD_SUBMISSION = "examples/double_launch.py"  # lands between 0 and full speed points


class CalibrationUnavailable(RuntimeError):
    """This machine lacks something calibration needs; the message says what and how to get it."""


def missing(gpu: bool | None = None) -> list[str]:
    """What calibration needs that this machine lacks, one sentence each (empty: all there).

    ``gpu``: whether a CUDA device answers (asked when not given)."""
    import importlib.util

    from grader.probe import gpu_available

    lacking = []
    if not (gpu_available() if gpu is None else gpu):
        lacking.append(
            "a CUDA GPU: none answered here (`cwb doctor` says why); calibration times kernels"
        )
    if importlib.util.find_spec("triton") is None:
        lacking.append(
            "triton, whose triton.testing.do_bench is the timer the grader's is compared with: "
            "`.venv/bin/pip install triton` (on Linux, the CUDA builds of torch bring it)"
        )
    if importlib.util.find_spec("cupy") is None:
        lacking.append("CuPy: `make venv` on a machine with an NVIDIA driver installs it")
    return lacking


def spin_kernel() -> Any:
    """A numba kernel whose length is set by its iteration count: FMAs on data in registers."""
    from numba import cuda

    @cuda.jit
    def spin(x, iterations):
        i = cuda.grid(1)
        if i < x.size:
            v = x[i]
            for _ in range(iterations):
                v = v * 0.999999 + 1e-6
            x[i] = v

    return spin


def timer_agreement(console: Console) -> list[dict[str, Any]]:
    """Each kernel timed by the grader and by do_bench, alternately, twice."""
    import cupy
    import triton.testing
    from numba import cuda

    from reference.lab0_vecadd.baselines import cuda_c_saxpy
    from reference.lab0_vecadd.solution import saxpy

    timer = EventTimer()
    timer.calibrate()
    rule = StopRule(min_samples=20, max_samples=2000, target_rse=0.002, time_cap_s=3.0)
    rng = np.random.default_rng(0)
    cases = []
    for n in (1 << 14, 1 << 20, 1 << 22, 1 << 24, 1 << 26, 1 << 28):
        x = cuda.to_device(rng.standard_normal(n, dtype=np.float32))
        y = cuda.to_device(rng.standard_normal(n, dtype=np.float32))
        out = cuda.device_array(n, dtype=np.float32)
        cases.append(
            (
                f"numba saxpy n=2^{n.bit_length() - 1}",
                lambda x=x, y=y, out=out: saxpy(np.float32(2), x, y, out),
            )
        )
        if n in (1 << 24, 1 << 28):
            v3 = cuda_c_saxpy("saxpy_v3")
            cases.append(
                (
                    f"CUDA C saxpy_v3 n=2^{n.bit_length() - 1}",
                    lambda x=x, y=y, out=out, v3=v3: v3(np.float32(2), x, y, out),
                )
            )
    spin = spin_kernel()
    buf = cuda.to_device(rng.standard_normal(1 << 20, dtype=np.float32))
    for iterations in (2000, 20000):
        cases.append(
            (
                f"numba FMA loop x{iterations}",
                lambda it=iterations: spin[(1 << 20) // 256, 256](buf, it),
            )
        )
    rows = []
    for name, fn in cases:
        ours, theirs = [], []
        for _ in range(2):
            ours.append(timer.measure(fn, rule).median_s)
            theirs.append(
                triton.testing.do_bench(fn, warmup=25, rep=200, return_mode="median") / 1e3
            )
        cupy.cuda.runtime.deviceSynchronize()
        row = {
            "kernel": name,
            "grader_us": statistics.median(ours) * 1e6,
            "do_bench_us": statistics.median(theirs) * 1e6,
            "grader_runs_us": [t * 1e6 for t in ours],
            "do_bench_runs_us": [t * 1e6 for t in theirs],
        }
        row["ratio"] = row["grader_us"] / row["do_bench_us"]
        rows.append(row)
        console.print(
            f"  {name}: grader {row['grader_us']:.1f} us, do_bench "
            f"{row['do_bench_us']:.1f} us, ratio {row['ratio']:.3f}"
        )
    return rows


def grading_spread(console: Console, repeats: int) -> dict[str, Any]:
    lab = labs.get("lab0")
    submission = lab.reference_folder / SPREAD_SUBMISSION
    runs = []
    for k in range(repeats):
        grader = Grader(lab, Options(mode="gpu", stop_rule=StopRule(fixed=50)))
        result = grader.grade(submission, student=f"spread-{k}")
        medians = {b.bench: b.student.median_s * 1e6 for b in result.benches if b.student}
        ref = {b.bench: b.reference.median_s * 1e6 for b in result.benches if b.reference}
        runs.append(
            {
                "points": result.points,
                "median_us": medians,
                "reference_us": ref,
                "failure": result.failure.reason if result.failure else None,
            }
        )
        console.print(
            f"  grading {k + 1}/{repeats}: {result.points:g} points; "
            + ", ".join(f"{b} {t:.1f} us" for b, t in medians.items())
        )
    points = [r["points"] for r in runs]
    spread = {
        "submission": str(submission.relative_to(lab.reference_folder.parent.parent)),
        "runs": runs,
        "points_min": min(points),
        "points_max": max(points),
        "points_spread": max(points) - min(points),
    }
    benches = runs[0]["median_us"].keys()
    spread["median_relative_range"] = {
        b: (max(r["median_us"][b] for r in runs) - min(r["median_us"][b] for r in runs))
        / statistics.median(r["median_us"][b] for r in runs)
        for b in benches
    }
    return spread


def run_calibration(console: Console, repeats: int, out: Path) -> dict[str, Any]:
    from grader.devices import device_info

    lacking = missing()
    if lacking:
        raise CalibrationUnavailable(
            "cwb calibrate cannot run on this machine. It needs\n"
            + "".join(f"  - {line}\n" for line in lacking)
            + "Nothing was measured."
        )
    console.print("[bold]Timer agreement with triton.testing.do_bench[/] (cold, median)")
    agreement = timer_agreement(console)
    console.print(f"[bold]Grading the same submission {repeats} times[/]")
    spread = grading_spread(console, repeats)
    report = {"device": device_info(), "timer_agreement": agreement, "grading_spread": spread}
    out.mkdir(parents=True, exist_ok=True)
    (out / "calibration.json").write_text(json.dumps(report, indent=2))
    table = Table(
        "kernel",
        "grader (us)",
        "do_bench (us)",
        "ratio",
        "within 5%",
        title=f"Timer vs do_bench on {report['device']['name']}",
    )
    for row in agreement:
        long_enough = row["do_bench_us"] > 50
        verdict = ("yes" if abs(row["ratio"] - 1) <= 0.05 else "NO") if long_enough else "(<50 us)"
        table.add_row(
            row["kernel"],
            f"{row['grader_us']:.1f}",
            f"{row['do_bench_us']:.1f}",
            f"{row['ratio']:.3f}",
            verdict,
        )
    console.print(table)
    console.print(
        f"Score over {repeats} gradings of {spread['submission']}: "
        f"{spread['points_min']:g} to {spread['points_max']:g} "
        f"(spread {spread['points_spread']:.2f} points); median time range: "
        + ", ".join(f"{b} {100 * v:.1f}%" for b, v in spread["median_relative_range"].items())
    )
    return report
