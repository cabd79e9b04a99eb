"""`make profile-lab2`: Nsight Compute on your matmul kernel, with the figures the roofline needs.

    python -m labs.lab2_matmul.profile [--submission labs/lab2_matmul/student.py] [--size 4096]

Runs your ``matmul`` once at size^3 under ``ncu`` (the call is bracketed by
cudaProfilerStart/Stop, so the warm-up and numba's compilation are not profiled) and prints,
per kernel: its time, DRAM bytes read and written, the arithmetic intensity those bytes give
(FLOP per DRAM byte: where the kernel really sits on the roofline, as opposed to the report's
fewest-bytes intensity), shared-memory wavefronts and throughput, and bank conflicts.
The raw CSV is kept in reports/lab2-ncu.csv. Without ncu it says so and stops.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import shutil
import subprocess
import sys
from pathlib import Path

from grader.spec import ROOT

METRICS = {
    "gpu__time_duration.sum": "time",
    "dram__bytes_read.sum": "DRAM read",
    "dram__bytes_write.sum": "DRAM written",
    "l1tex__data_pipe_lsu_wavefronts_mem_shared.sum": "shared wavefronts",
    "l1tex__data_pipe_lsu_wavefronts_mem_shared.sum.pct_of_peak_sustained_elapsed": (
        "shared throughput"
    ),
    "l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum": "bank conflicts",
    "sm__throughput.avg.pct_of_peak_sustained_elapsed": "SM throughput",
}
CSV_PATH = ROOT / "reports" / "lab2-ncu.csv"


def run_once(submission: Path, size: int) -> None:
    """Import the submission, warm it up at a small size, then profile one call at size^3."""
    import numpy as np
    from numba import cuda

    spec = importlib.util.spec_from_file_location("submission", submission)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    for n in (67, size):
        a = cuda.to_device(rng.standard_normal((n, n), dtype=np.float32))
        b = cuda.to_device(rng.standard_normal((n, n), dtype=np.float32))
        out = cuda.device_array((n, n), dtype=np.float32)
        if n == size:
            cuda.profile_start()
        module.matmul(a, b, out)
        cuda.synchronize()
    cuda.profile_stop()


def parse(text: str) -> list[dict[str, str | float]]:
    """ncu's ``--csv --page raw`` output -> one dict per kernel: name, then metric -> value."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith('"ID"')), None)
    if start is None:
        return []
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[start:]))))
    kernels = []
    for row in rows[1:] if rows and rows[0].get("ID", "").strip() == "" else rows:
        kernel: dict[str, str | float] = {"name": row.get("Kernel Name", "?")}
        for metric in METRICS:
            value = row.get(metric, "").replace(",", "")
            try:
                kernel[metric] = float(value)
            except ValueError:
                continue
        kernels.append(kernel)
    return kernels


def summarize(kernels: list[dict[str, str | float]], size: int) -> str:
    """The figures a student reads, per kernel, with the napkin math beside them."""
    flops = 2 * size**3
    fewest = 3 * 4 * size * size
    out = [f"matmul {size}^3: {flops / 1e9:.0f} GFLOP; the fewest bytes: {fewest / 1e6:.0f} MB"]
    for k in kernels:
        name = str(k["name"])
        out.append(f"\n{name[:100]}")
        ns = float(k.get("gpu__time_duration.sum", 0.0))
        dram = float(k.get("dram__bytes_read.sum", 0.0)) + float(k.get("dram__bytes_write.sum", 0))
        if ns:
            out.append(f"  time             {ns / 1e6:9.3f} ms  ({flops / ns / 1e3:.2f} TFLOP/s)")
        if dram:
            out.append(
                f"  DRAM traffic     {dram / 1e6:9.1f} MB  ({dram / fewest:.1f}x the fewest; "
                f"{flops / dram:.0f} FLOP per DRAM byte)"
            )
        for metric, label in METRICS.items():
            if metric in k and label not in ("time", "DRAM read", "DRAM written"):
                unit = "%" if "pct" in metric or "throughput" in metric else ""
                out.append(f"  {label:<16} {float(k[metric]):12,.1f}{unit}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submission", type=Path, default=ROOT / "labs/lab2_matmul/student.py")
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--lab", default="lab2", help=argparse.SUPPRESS)  # `cwb profile` passes it
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        run_once(args.submission.resolve(), args.size)
        return
    ncu = shutil.which("ncu")
    if ncu is None:
        sys.exit("ncu (Nsight Compute) is not installed here: nothing to profile")
    command = [
        ncu,
        "--profile-from-start",
        "off",
        "--metrics",
        ",".join(METRICS),
        "--csv",
        "--page",
        "raw",
        sys.executable,
        "-m",
        "labs.lab2_matmul.profile",
        "--inner",
        "--submission",
        str(args.submission),
        "--size",
        str(args.size),
    ]
    print("running:", " ".join(command), flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    CSV_PATH.parent.mkdir(parents=True, exist_ok=True)
    CSV_PATH.write_text(done.stdout)
    kernels = parse(done.stdout)
    if done.returncode != 0 or not kernels:
        sys.stderr.write(done.stderr[-4000:])
        sys.exit(f"ncu failed (exit code {done.returncode}); its output is in {CSV_PATH}")
    print(summarize(kernels, args.size))
    print(f"\nraw metrics: {CSV_PATH}")


if __name__ == "__main__":
    main()
