"""`make gpu-check`: everything that needs a GPU, in one call, with a summary at the end.

    1. cwb doctor
    2. the GPU tests (pytest -m gpu)
    3. cwb selftest LAB --mode gpu, for every lab
    4. cwb calibrate (timer against do_bench; spread of repeated gradings)
    5. the benchmarks (pytest-benchmark, tests/bench)
    6. lab 2's SGEMM ladder against cuBLAS (python -m reference.lab2_matmul.bench)
    7. lab 3's pipeline ladder, stage sweep and latencies (python -m reference.lab3_pipeline.bench)
    8. the student's loop ("labs"): `cwb run` of every lab's reference solution, ``--rounds``
       times over (the first round may time the reference and build the worker's kernel
       cache; later ones use them), with each run's seconds and points, and each lab's spread

Together these take longer than one call on the lent GPU machine may (10 minutes): run them in
parts with ``--only`` (e.g. ``--only doctor,pytest`` then ``--only selftest --labs lab0,lab1``).
The selftest runs in the sandbox when bubblewrap works (``cwb doctor`` says); on the lent
machine it is unpacked from its Debian package first (docs/gpu-runs.md says how).

Copy what it prints into docs/gpu-runs.md with the device and the date: that file is how
everyone knows what has run on real hardware. ``--out DIR`` keeps the JSON and reports.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from grader.spec import ROOT

STEPS = (
    "doctor",
    "pytest",
    "selftest",
    "calibrate",
    "bench",
    "lab2-bench",
    "lab3-bench",
    "labs",
)


def _step(name: str, cmd: list[str], results: list[tuple[str, int, float]]) -> None:
    print(f"\n===== {name}: {' '.join(cmd)}", flush=True)
    started = time.monotonic()
    code = subprocess.call(cmd, cwd=ROOT)
    results.append((name, code, time.monotonic() - started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "gpu-check")
    parser.add_argument("--skip", default="", help=f"comma-separated, of: {', '.join(STEPS)}")
    parser.add_argument("--only", default="", help="comma-separated steps to run (the others not)")
    parser.add_argument("--labs", default="", help="comma-separated labs for the selftest")
    parser.add_argument(
        "--selftest-timeout",
        default="lab0=20",
        help="LAB=seconds,... per checking process (default: lab0=20, so its hang fixtures "
        "cost 20 s each; other labs keep their own, sized for their data)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="`cwb run`s of each lab (labs)")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    if args.only:
        skip |= set(STEPS) - set(args.only.split(","))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    cwb = [py, "-m", "grader"]
    print(f"gpu-check {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}")
    results: list[tuple[str, int, float]] = []
    if "doctor" not in skip:
        _step("doctor", [*cwb, "doctor"], results)
    gpu_pytest = [py, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider"]
    if "pytest" not in skip:
        _step("pytest", [*gpu_pytest, "tests", "--ignore=tests/bench"], results)
    if "selftest" not in skip:
        import labs

        limits = dict(item.split("=") for item in filter(None, args.selftest_timeout.split(",")))
        for lab in [n for n in labs.names() if not args.labs or n in args.labs.split(",")]:
            selftest = ["selftest", lab, "--mode", "gpu", "--out", str(out / "selftest")]
            if lab in limits:
                selftest += ["--timeout", limits[lab]]
            _step(f"selftest {lab}", [*cwb, *selftest], results)
    if "calibrate" not in skip:
        _step("calibrate", [*cwb, "calibrate", "--out", str(out)], results)
    if "bench" not in skip:
        bench_json = out / "bench.json"
        bench = ["tests/bench", "--benchmark-enable", f"--benchmark-json={bench_json}"]
        _step("bench", [*gpu_pytest, *bench], results)
        if bench_json.is_file():
            print("\nbenchmarks (grader's cold CUDA-event median):")
            for bench in json.loads(bench_json.read_text())["benchmarks"]:
                info = bench["extra_info"]
                print(
                    f"  {bench['name']:<40} {info['median_us']:9.1f} us  "
                    f"{info['gb_per_s']:7.0f} GB/s  {100 * info['fraction_of_copy']:5.1f}% "
                    f"of copy ({info['copy_gb_per_s']:.0f} GB/s)"
                )
    if "lab2-bench" not in skip:
        ladder = [py, "-m", "reference.lab2_matmul.bench", "--json", str(out / "lab2-bench.json")]
        _step("lab2-bench", ladder, results)
    if "lab3-bench" not in skip:
        ladder = [py, "-m", "reference.lab3_pipeline.bench", "--json", str(out / "lab3-bench.json")]
        _step("lab3-bench", ladder, results)
    if "labs" not in skip:
        _student_loop(cwb, out, args.labs, args.rounds, results)
    print("\n===== summary")
    for name, code, seconds in results:
        print(f"  {name:<14} {'ok' if code == 0 else f'FAILED ({code})':<12} {seconds:7.1f} s")
    sys.exit(0 if all(code == 0 for _, code, _ in results) else 1)


def _student_loop(
    cwb: list[str], out: Path, only: str, rounds: int, results: list[tuple[str, int, float]]
) -> None:
    """`cwb run` of each lab's reference, round after round (every lab once per round, so a
    call cut short still has every lab), then the seconds and the points' spread per lab."""
    import labs

    names = [n for n in labs.names() if not only or n in only.split(",")]
    seen: dict[str, list[tuple[float, float, str]]] = {n: [] for n in names}
    for round_ in range(1, rounds + 1):
        for name in names:
            lab = labs.get(name)
            folder = out / "labs" / f"round{round_}"
            command = [*cwb, "run", name, "--submission", str(lab.solution_path)]
            _step(
                f"{name} round {round_}", [*command, "--mode", "gpu", "--out", str(folder)], results
            )
            report = folder / f"{name}.json"
            if report.is_file():
                data = json.loads(report.read_text())
                source = str(data.get("reference_source", ""))
                seen[name].append((float(data["seconds"]), float(data["points"]), source))
    print("\n===== the student's loop: `cwb run` of each reference (seconds, points)")
    for name, runs in seen.items():
        if not runs:
            continue
        points = [p for _, p, _ in runs]
        each = "  ".join(f"{s:5.1f} s {p:6.2f}" for s, p, _ in runs)
        print(f"  {name:<6} {each}   spread {max(points) - min(points):.2f} points")
        kept = sum(source.startswith("kept") for _, _, source in runs)
        print(f"         the reference kept from an earlier run in {kept} of {len(runs)}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
