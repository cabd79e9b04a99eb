"""`make profile-lab3`: Nsight Compute on your part B kernel, with the counters that show
whether its copies really are asynchronous and how many bytes it keeps moving.

    python -m labs.lab3_pipeline.profile [--source labs/lab3_pipeline/student.cu] [--stages 8]

Compiles your kernel as the grader does (4 KiB tiles, one block per SM) and profiles one launch
over 2^26 floats under ``ncu`` (only that launch: the call is bracketed by
cudaProfilerStart/Stop). It prints the kernel's time, its DRAM bytes and bandwidth, and the
instructions that matter here: LDGSTS (Ampere's ``cp.async``: global to shared, no registers),
UBLKCP (Hopper's bulk copy) and UTMALDG (a TMA tensor load). A kernel whose copies all go
through registers shows none of them. The raw CSV is kept in reports/lab3-ncu.csv.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from grader.spec import ROOT
from labs.lab2_matmul.profile import parse  # ncu's CSV, one dict per kernel

METRICS = {
    "gpu__time_duration.sum": "time",
    "dram__bytes_read.sum": "DRAM read",
    "dram__bytes_write.sum": "DRAM written",
    "smsp__inst_executed_op_ldgsts.sum": "LDGSTS (cp.async)",
    "smsp__inst_executed_op_ublkcp.sum": "UBLKCP (bulk copy)",
    "smsp__inst_executed_op_utmaldg.sum": "UTMALDG (TMA load)",
    "sm__throughput.avg.pct_of_peak_sustained_elapsed": "SM throughput",
}
CSV_PATH = ROOT / "reports" / "lab3-ncu.csv"
N = 1 << 26


def run_once(source: Path, stages: int) -> None:
    """Compile, warm up once, then launch once between cudaProfilerStart and Stop."""
    import cupy

    from labs.lab3_pipeline.launch import (
        compile_stream_kernel,
        device_props,
        launch_config,
        run_stream_kernel,
    )

    kernel = compile_stream_kernel(source, stages, 1024)
    config = launch_config(device_props(), stages, 4096)
    x = cupy.random.default_rng(0).uniform(-2, 2, N, dtype=cupy.float32)
    out = cupy.empty_like(x)
    run_stream_kernel(kernel, x, out, 1.5, 0.5, N, config)
    cupy.cuda.runtime.deviceSynchronize()
    cupy.cuda.runtime.profilerStart()
    run_stream_kernel(kernel, x, out, 1.5, 0.5, N, config)
    cupy.cuda.runtime.deviceSynchronize()
    cupy.cuda.runtime.profilerStop()


def summarize(kernels: list[dict[str, str | float]]) -> str:
    out = [f"out = a * in + b over {N} floats: the fewest bytes are {8 * N / 1e6:.0f} MB"]
    for k in kernels:
        out.append(f"\n{str(k['name'])[:100]}")
        ns = float(k.get("gpu__time_duration.sum", 0.0))
        dram = float(k.get("dram__bytes_read.sum", 0.0)) + float(k.get("dram__bytes_write.sum", 0))
        if ns:
            out.append(f"  time             {ns / 1e3:9.1f} us")
        if ns and dram:
            out.append(f"  DRAM traffic     {dram / 1e6:9.1f} MB  ({dram / ns:.0f} GB/s)")
        for metric, label in METRICS.items():
            if metric in k and label not in ("time", "DRAM read", "DRAM written"):
                unit = "%" if "pct" in metric else ""
                out.append(f"  {label:<20} {float(k[metric]):14,.0f}{unit}")
        copies = sum(float(k.get(m, 0.0)) for m in list(METRICS)[3:6])
        out.append(
            "  asynchronous copies: " + ("yes" if copies else "none (all through registers)")
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT / "labs/lab3_pipeline/student.cu")
    parser.add_argument("--submission", type=Path, help="a student.py: its student.cu is used")
    parser.add_argument("--stages", type=int, default=8)
    parser.add_argument("--lab", default="lab3", help=argparse.SUPPRESS)  # `cwb profile` passes it
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    source = args.submission.with_suffix(".cu") if args.submission else args.source
    if args.inner:
        run_once(source.resolve(), args.stages)
        return
    ncu = shutil.which("ncu")
    if ncu is None:
        sys.exit("ncu (Nsight Compute) is not installed here: nothing to profile")
    command = [ncu, "--profile-from-start", "off", "--metrics", ",".join(METRICS), "--csv"]
    command += ["--page", "raw", sys.executable, "-m", "labs.lab3_pipeline.profile", "--inner"]
    command += ["--source", str(source), "--stages", str(args.stages)]
    print("running:", " ".join(command), flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    CSV_PATH.parent.mkdir(parents=True, exist_ok=True)
    CSV_PATH.write_text(done.stdout)
    kernels = parse(done.stdout)
    if done.returncode != 0 or not kernels:
        sys.stderr.write(done.stderr[-4000:])
        sys.exit(f"ncu failed (exit code {done.returncode}); its output is in {CSV_PATH}")
    print(summarize(kernels))
    print(f"\nraw metrics: {CSV_PATH}")


if __name__ == "__main__":
    main()
