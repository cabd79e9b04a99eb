"""Lab 3 part B's ladder (pipeline.cu v1-v4, and optionally a student's kernel) against a
device-to-device copy, with the Little's-law numbers beside it.

    python -m reference.lab3_pipeline.bench [--n 268435456] [--sizes 1 3 1023 ...]
        [--stages 4] [--tile-bytes 4096] [--sweep 1 2 3 4 6 8] [--repeats 20]
        [--source labs/lab3_pipeline/student.cu] [--no-latency] [--json out.json]

1. Copy ceiling: ``cudaMemcpyAsync`` device to device of ``n`` floats, bytes read + written
   over the median time (L2 flushed before each sample, as for the kernels).
2. Validate every kernel (each version at the default stages and tile, every point of the stage
   sweep, the 16 KiB-tile points, the student's) on every size of ``--sizes`` (odd ones: the
   tail and the float4 remainder) and on ``n``: a fresh output poisoned with NaN, with guard
   words on both sides that must come back untouched. The comparison, element by element:
   ``out == float32(float32(a*x) + b)`` (multiply and add rounded separately), or
   ``|out - fused| <= ulp(fused)`` with ``fused = float32(a*x + b)`` computed in float64 (the
   product of two floats is exact in float64, so this is fmaf's correctly rounded result up to
   one float64 rounding: at most one float32 ulp apart). NaN never passes. A kernel that fails
   is reported FAILED and not timed.
3. Time at ``n``: 3 warm-up launches, then ``--repeats`` launches each between CUDA events,
   with an L2 flush (a memset of at least twice the L2) enqueued before each start event; the
   output of the timed launches is checked again afterwards. Median, as GB/s of bytes read +
   written and % of the copy; the speed-up of each asynchronous version over v1 at the same
   tile; a stage sweep for v2 and v3 with Little's law's prediction beside each point.
4. Latency (unless ``--no-latency``): idle DRAM and L2 by pointer chase
   (labs/lab3_pipeline/latency.py), and the loaded latency the sweep implies.

It prints a line per kernel as it goes, then markdown tables for docs/gpu-runs.md; ``--json``
writes everything. It never touches clocks or any GPU setting. Budget: well under 3 minutes on
an H200 (about 30 compiles of a fraction of a second, 4 GiB of buffers at n = 2^28).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labs.lab3_pipeline import latency as little
from labs.lab3_pipeline.launch import (
    StreamConfig,
    StreamKernel,
    async_copy_kinds,
    device_props,
    launch_config,
    prepare_stream_launch,
    run_stream_kernel,
)
from labs.lab3_pipeline.stream_check import (  # noqa: F401  (the bench's check, shared)
    GUARD,
    GUARD_BITS,
    SPIKES,
    A,
    B,
    Case,
    Output,
    check,
    expected_pair,
    make_case,
    mismatches,
)
from reference.lab3_pipeline.ladder import STUDENT, V1, V2, V3, VERSIONS, Version, build

DEFAULT_N = 1 << 28
DEFAULT_SIZES = (1, 3, 1023, 4097, 1_000_003, (1 << 20) + 5)
DEFAULT_SWEEP = (1, 2, 3, 4, 6, 8)
SWEEP_VERSIONS = (V2, V3)
BIG_TILE_BYTES = 16 << 10  # the second tile size: every route saturates at 2 stages there
BIG_TILE_STAGES = 2
WARMUP = 3
# ------------------------------------------------------------------------------------------------
# Timing


def l2_flush_buffer():
    import cupy

    l2 = int(cupy.cuda.Device().attributes.get("L2CacheSize", 0))
    return cupy.empty(max(2 * l2, 256 << 20), dtype=cupy.uint8)


def time_calls(fn: Callable[[], Any], repeats: int, flush) -> list[float]:
    """Per-call device times in ms: WARMUP calls, then ``repeats`` samples, each preceded by an
    L2 flush (which also keeps the device busy while the host launches)."""
    import cupy

    stream = cupy.cuda.get_current_stream()
    for _ in range(WARMUP):
        fn()
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    samples = []
    for _ in range(repeats):
        cupy.cuda.runtime.memsetAsync(flush.data.ptr, 0, flush.nbytes, stream.ptr)
        start.record()
        fn()
        end.record()
        end.synchronize()
        samples.append(cupy.cuda.get_elapsed_time(start, end))
    return samples


def copy_bandwidth(n: int, repeats: int, flush) -> dict[str, Any]:
    """Device-to-device copy of n floats: (read + written bytes) / median time."""
    import cupy

    src = cupy.ones(n, dtype=cupy.float32)
    dst = cupy.empty_like(src)
    stream = cupy.cuda.get_current_stream()
    kind = cupy.cuda.runtime.memcpyDeviceToDevice
    args = (dst.data.ptr, src.data.ptr, src.nbytes, kind, stream.ptr)

    def copy() -> None:
        cupy.cuda.runtime.memcpyAsync(*args)

    samples = time_calls(copy, repeats, flush)
    median_ms = statistics.median(samples)
    del src, dst
    cupy.get_default_memory_pool().free_all_blocks()
    return {
        "bytes": 8 * n,
        "median_ms": median_ms,
        "bytes_per_s": 8 * n / (median_ms / 1e3),
        "samples_ms": samples,
    }


# ------------------------------------------------------------------------------------------------
# One kernel: build, validate, time


@dataclass
class Result:
    name: str  # the kernel symbol
    label: str
    stages: int
    tile_bytes: int
    role: str = "ladder"  # "ladder", "sweep", "big tile" or "student"
    ok: bool = True
    error: str | None = None
    copy_kinds: list[str] = field(default_factory=list)
    checked: list[int] = field(default_factory=list)
    samples_ms: list[float] = field(default_factory=list)
    median_ms: float | None = None
    bytes_per_s: float | None = None
    percent_of_copy: float | None = None
    speedup_over_v1: float | None = None
    predicted_bytes_per_s: float | None = None  # Little's law with the idle DRAM latency
    implied_latency_ns: float | None = None  # the latency the measured bandwidth covered

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.name, self.stages, self.tile_bytes)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["gb_per_s"] = None if self.bytes_per_s is None else self.bytes_per_s / 1e9
        return d


def launcher(kernel: StreamKernel, config: StreamConfig) -> Callable[[Any, Any, int], Any]:
    def launch(x, out, n):
        return run_stream_kernel(kernel, x, out, A, B, n, config)

    return launch


def validate(launch: Callable[[Any, Any, int], Any], cases: Sequence[Case], result: Result) -> None:
    """Runs the kernel on every case into a fresh poisoned output; stops at the first failure."""
    import cupy

    for case in cases:
        out = Output.fresh(case.n)
        try:
            launch(case.x, out.view, case.n)
            cupy.cuda.get_current_stream().synchronize()
            problem = check(out, case)
        except Exception as exc:  # a launch failure or a refused configuration: report, go on
            problem = f"n={case.n}: {type(exc).__name__}: {exc}"
        if problem is not None:
            result.ok, result.error = False, problem
            return
        result.checked.append(case.n)


def run_one(
    version: Version,
    stages: int,
    tile_bytes: int,
    role: str,
    cases: Sequence[Case],
    big: Case,
    props: dict[str, int],
    repeats: int,
    flush,
    source: Path | None = None,
) -> Result:
    result = Result(version.name, version.label, stages, tile_bytes, role)
    try:
        kernel = build(version, stages, tile_bytes // 4, source=source)
        config = launch_config(props, stages, tile_bytes)
    except Exception as exc:  # a compile error, an impossible configuration
        result.ok, result.error = False, f"{type(exc).__name__}: {exc}"
        return result
    # pipeline.cu holds every version: look at this one's entry only; a student's whole module
    result.copy_kinds = sorted(async_copy_kinds(kernel.ptx, None if source else version.name))
    if version.copy is not None and role != "student" and version.copy not in result.copy_kinds:
        result.ok, result.error = False, f"its PTX has no {version.copy}"
        return result
    launch = launcher(kernel, config)
    validate(launch, (*cases, big), result)
    if not result.ok:
        return result
    out = Output.fresh(big.n)
    timed = prepare_stream_launch(kernel, big.x, out.view, A, B, big.n, config)
    result.samples_ms = time_calls(timed, repeats, flush)
    problem = check(out, big)  # the outputs of the timed launches
    if problem is not None:
        result.ok, result.error = False, "while timed: " + problem
        return result
    result.median_ms = statistics.median(result.samples_ms)
    result.bytes_per_s = 8 * big.n / (result.median_ms / 1e3)
    return result


# ------------------------------------------------------------------------------------------------
# Report


def _gb(x: float | None) -> str:
    return "-" if x is None else f"{x / 1e9:.0f}"


def markdown_table(results: Sequence[Result], copy: dict[str, Any] | None) -> str:
    lines = [
        "| kernel | stages | tile | GB/s | % of copy | x v1 (same tile) | Little (idle L) GB/s "
        "| implied latency | async copies |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    if copy is not None:
        lines.append(f"| device copy | - | - | {_gb(copy['bytes_per_s'])} | 100% | - | - | - | - |")
    for r in results:
        tile = f"{r.tile_bytes // 1024} KiB"
        kinds = ", ".join(r.copy_kinds) or "none"
        if not r.ok:
            lines.append(f"| {r.label} | {r.stages} | {tile} | FAILED | - | - | - | - | {kinds} |")
            continue
        pct = "-" if r.percent_of_copy is None else f"{r.percent_of_copy:.0f}%"
        speedup = "-" if r.speedup_over_v1 is None else f"{r.speedup_over_v1:.2f}x"
        lat = "-" if r.implied_latency_ns is None else f"{r.implied_latency_ns:.0f} ns"
        lines.append(
            f"| {r.label} | {r.stages} | {tile} | {_gb(r.bytes_per_s)} | {pct} | {speedup} "
            f"| {_gb(r.predicted_bytes_per_s)} | {lat} | {kinds} |"
        )
    return "\n".join(lines)


def failures_table(results: Sequence[Result]) -> str:
    bad = [r for r in results if not r.ok]
    if not bad:
        return ""
    lines = ["| kernel | stages | tile | error |", "| --- | ---: | ---: | --- |"]
    for r in bad:
        error = (r.error or "").replace("|", "/").replace("\n", " ")[:300]
        lines.append(f"| {r.label} | {r.stages} | {r.tile_bytes // 1024} KiB | {error} |")
    return "\n".join(lines)


def latency_table(latencies: dict[str, Any], little_rows: dict[str, Any]) -> str:
    lines = ["| quantity | value |", "| --- | ---: |"]
    names = {
        "dram_pages": "idle DRAM latency (random lines in 2 MiB pages)",
        "dram_random": "idle DRAM latency (random lines over 1 GiB)",
        "l2": "L2 latency (2 MiB, ld.cg)",
    }
    for key, lat in latencies.items():
        lines.append(f"| {names.get(key, key)} | {lat.ns:.0f} ns |")
    for key, value in little_rows.items():
        lines.append(f"| {key} | {value} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# The run


def annotate(results: list[Result], copy: dict[str, Any] | None, sms: int, idle_s: float | None):
    """Fills % of copy, the speed-up over v1 at the same tile, and the Little's-law columns."""
    v1 = {r.tile_bytes: r.bytes_per_s for r in results if r.name == V1.name and r.ok}
    ceiling = copy["bytes_per_s"] if copy else None
    for r in results:
        if not r.ok or r.bytes_per_s is None:
            continue
        if ceiling:
            r.percent_of_copy = 100.0 * r.bytes_per_s / ceiling
        if r.name != V1.name and v1.get(r.tile_bytes):
            r.speedup_over_v1 = r.bytes_per_s / v1[r.tile_bytes]
        in_flight = r.stages  # tiles of reads in flight per SM (v1: built with STAGES = 1)
        if ceiling and idle_s:
            r.predicted_bytes_per_s = little.predicted_bandwidth(
                in_flight, r.tile_bytes, sms, idle_s, ceiling
            )
        r.implied_latency_ns = 1e9 * little.implied_latency(
            r.bytes_per_s, in_flight, r.tile_bytes, sms
        )


def run(args: argparse.Namespace) -> dict[str, Any]:
    import cupy

    t_start = time.perf_counter()
    device = cupy.cuda.Device()
    props = device_props()
    cc = props["major"] * 10 + props["minor"]
    name = cupy.cuda.runtime.getDeviceProperties(device.id)["name"]
    name = name.decode() if isinstance(name, bytes) else str(name)
    sms = props["multiProcessorCount"]
    n = args.n
    print(
        f"device: {name} (sm_{device.compute_capability}), {sms} SMs, "
        f"{props['sharedMemPerMultiprocessor'] // 1024} KiB shared memory per SM, "
        f"L2 {props['l2CacheSize'] >> 20} MiB",
        flush=True,
    )
    cfg = launch_config(props, args.stages, args.tile_bytes)
    print(
        f"workload: out = a*in + b over n = {n} floats ({8 * n / 1e9:.2f} GB read + written); "
        f"{cfg.grid} blocks x {cfg.block} threads, {cfg.shared_mem} B dynamic shared memory "
        f"(one block per SM)",
        flush=True,
    )
    flush = l2_flush_buffer()
    copy = copy_bandwidth(n, args.repeats, flush)
    print(f"device copy: {copy['bytes_per_s'] / 1e9:.0f} GB/s (read + written)", flush=True)

    cases = [make_case(s, args.seed) for s in args.sizes if s != n]
    big = make_case(n, args.seed)
    print(f"validating on n = {', '.join(str(c.n) for c in (*cases, big))}", flush=True)

    # (version, stages, tile bytes, role, source). v1 keeps one tile in flight whatever STAGES
    # says: it is built with STAGES = 1.
    plan: list[tuple[Version, int, int, str, Path | None]] = []
    for v in VERSIONS:
        if cc >= v.min_cc:
            plan.append((v, 1 if v is V1 else args.stages, args.tile_bytes, "ladder", None))
    for v in SWEEP_VERSIONS:
        if cc >= v.min_cc:
            plan += [(v, s, args.tile_bytes, "sweep", None) for s in args.sweep if s != args.stages]
    for v in VERSIONS:
        if cc >= v.min_cc and args.tile_bytes != BIG_TILE_BYTES:
            stages = 1 if v is V1 else BIG_TILE_STAGES
            plan.append((v, stages, BIG_TILE_BYTES, "big tile", None))
    if args.source is not None:
        plan.append((STUDENT, args.stages, args.tile_bytes, "student", args.source))
    skipped = [v.label for v in VERSIONS if cc < v.min_cc]
    if skipped:
        print(f"skipped on sm_{device.compute_capability}: {', '.join(skipped)}", flush=True)

    results: list[Result] = []
    for version, stages, tile_bytes, role, source in plan:
        r = run_one(
            version, stages, tile_bytes, role, cases, big, props, args.repeats, flush, source
        )
        results.append(r)
        head = f"{r.label:18s} S={r.stages} tile={r.tile_bytes // 1024:2d} KiB:"
        if r.ok:
            kinds = ", ".join(r.copy_kinds) or "no async copy"
            print(f"{head} {r.bytes_per_s / 1e9:6.0f} GB/s  ({kinds})", flush=True)
        else:
            print(f"{head} FAILED ({r.error})", flush=True)
    del cases
    cupy.get_default_memory_pool().free_all_blocks()

    latencies: dict[str, Any] = {}
    if not args.no_latency:
        try:
            latencies = little.measure_all(args.seed)
        except Exception as exc:  # report it; the tables still matter
            print(f"latency: FAILED ({type(exc).__name__}: {exc})", flush=True)
        for key, lat in latencies.items():
            print(f"latency {key}: {lat.ns:.0f} ns", flush=True)
    idle = latencies["dram_pages"].ns * 1e-9 if latencies else None
    annotate(results, copy, sms, idle)

    little_rows: dict[str, Any] = {}
    ceiling = copy["bytes_per_s"]
    if idle:
        need = little.bytes_in_flight_needed(ceiling / 2, idle, sms)
        little_rows["reads in flight per SM for the copy ceiling, idle latency"] = (
            f"{need / 1024:.1f} KiB ({little.stages_needed(ceiling, args.tile_bytes, sms, idle)}"
            f" stages of {args.tile_bytes // 1024} KiB)"
        )
    sweep = [r for r in results if r.ok and r.name == V2.name and r.tile_bytes == args.tile_bytes]
    if sweep:
        best = max(sweep, key=lambda r: r.bytes_per_s or 0.0)
        little_rows[f"loaded latency at v2's best point (S = {best.stages})"] = (
            f"{best.implied_latency_ns:.0f} ns"
        )
    main_rows = sorted((r for r in results if r.role != "sweep"), key=_order)
    sweep_rows = sorted(
        (
            r
            for r in results
            if r.role in ("ladder", "sweep")
            and r.tile_bytes == args.tile_bytes
            and r.name in {v.name for v in SWEEP_VERSIONS}
        ),
        key=_order_sweep,
    )
    table = markdown_table(main_rows, copy)
    sweep_table = markdown_table(sweep_rows, None)
    print(
        f"\nThe ladder ({args.stages} stages), the {BIG_TILE_BYTES // 1024} KiB tiles, the student:"
    )
    print(table)
    print(f"\nStage sweep, {args.tile_bytes // 1024} KiB tiles:")
    print(sweep_table)
    failures = failures_table(results)
    if failures:
        print()
        print(failures)
    if latencies or little_rows:
        print()
        print(latency_table(latencies, little_rows))
    elapsed = time.perf_counter() - t_start
    print(f"\n{len(results)} kernels in {elapsed:.0f} s", flush=True)
    report = {
        "device": name,
        "compute_capability": device.compute_capability,
        "props": props,
        "n": n,
        "validation_sizes": [*args.sizes, n],
        "a": float(A),
        "b": float(B),
        "comparison": "out == f32(f32(a*x)+b) or |out - f32(a*x+b in f64)| <= ulp; NaN fails",
        "repeats": args.repeats,
        "warmup": WARMUP,
        "cold": "L2 flushed (memset of >= 2x L2) before every sample",
        "copy_bandwidth": copy,
        "results": [r.to_dict() for r in results],
        "latency_ns": {k: v.to_dict() for k, v in latencies.items()},
        "little": little_rows,
        "seconds": elapsed,
        "table": table,
        "sweep_table": sweep_table,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float))
        print(f"wrote {args.json}", flush=True)
    return report


def _order(r: Result) -> tuple[int, int, int, int]:
    """Ladder first; then the sweep, by version and stages; then the big tiles; the student."""
    roles = {"ladder": 0, "sweep": 1, "big tile": 2, "student": 3}
    versions = {v.name: i for i, v in enumerate(VERSIONS)}
    return (roles.get(r.role, 9), versions.get(r.name, 9), r.stages, r.tile_bytes)


def _order_sweep(r: Result) -> tuple[int, int]:
    versions = {v.name: i for i, v in enumerate(VERSIONS)}
    return (versions.get(r.name, 9), r.stages)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m reference.lab3_pipeline.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--n", type=int, default=DEFAULT_N, help="timed size (floats)")
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=list(DEFAULT_SIZES), help="validation sizes"
    )
    parser.add_argument("--stages", type=int, default=4, help="stages of the ladder's kernels")
    parser.add_argument("--tile-bytes", type=int, default=4096)
    parser.add_argument("--sweep", type=int, nargs="*", default=list(DEFAULT_SWEEP))
    parser.add_argument("--repeats", type=int, default=20, help="timed launches per kernel")
    parser.add_argument("--source", type=Path, default=None, help="a student's .cu to add")
    parser.add_argument("--no-latency", action="store_true", help="skip the pointer chases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.n < 1 or args.repeats < 1 or any(s < 0 for s in args.sizes):
        parser.error("--n and --repeats must be >= 1, sizes >= 0")
    if args.tile_bytes < 16 or args.tile_bytes % 512:
        parser.error("--tile-bytes must be a multiple of 512 (v4's TMA box)")
    if any(not 1 <= s <= 32 for s in (*args.sweep, args.stages)):
        parser.error("stages must be 1 .. 32")
    if args.source is not None and not args.source.is_file():
        parser.error(f"no file {args.source}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    return 0 if all(r["ok"] for r in report["results"] if r["role"] != "student") else 1


if __name__ == "__main__":
    sys.exit(main())
