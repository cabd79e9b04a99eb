"""Lab 2's SGEMM ladder (numba v1-v4, CUDA C v1-v6) against cuBLAS, in the llm.c dev/cuda style.

    python -m reference.lab2_matmul.bench [--size 4096] [--shapes 127x131x77 1x1x1 ...]
        [--repeats 20] [--versions sgemm_v6_warptile ...] [--json out.json]

For cuBLAS first, then each version in order (numba_kernels.py's, then matmul.cu's):

1. Validate. On every shape of ``--shapes`` (odd ones by default, so edge tiles and unaligned
   rows are exercised), then on the benchmark shape ``size^3``, the output must be within the
   tolerance of :mod:`labs.lab2_matmul.tolerance` of the float64 product of the same
   inputs: ``|out - a@b| <= 4 * K * 2**-24 * (|a| @ |b|)`` entry by entry (each of the K fp32
   multiply-adds rounds the running sum once, by at most 2**-24 of the terms' magnitudes).
   The output starts as NaN, so an entry never written fails too. A version that fails is
   reported as FAILED and not timed.
2. Time, at ``size^3``: 3 warm-up calls, then ``--repeats`` calls, each between its own pair
   of CUDA events, with an L2 flush (a memset of a buffer of at least twice the L2) enqueued
   before each start event; the flush also keeps the device busy while the host launches, so
   the launch overhead stays out of the samples. The median is reported, as ms, TFLOP/s
   (2*M*N*K / t) and % of cuBLAS measured in the same run. A version slower than
   ``--budget`` seconds for all its repeats gets fewer (at least 3).

It also measures the device-to-device copy bandwidth of a 1 GiB buffer (bytes read plus
written per second), the memory ceiling. It prints a line per version as it finishes, then a
markdown table; ``--json`` writes it all. It never touches clocks or any GPU setting.
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

import numpy as np

from labs.lab2_matmul.tolerance import FACTOR, UNIT_ROUNDOFF, MatmulReference, matmul_reference
from reference.lab2_matmul.cuda_c import STRETCH, VERSIONS, cublas_matmul, cuda_c_matmul

# The numba versions (numba_kernels.py), timed on the same CuPy arrays: numba launches
# take anything with a CUDA array interface, on the same legacy default stream.
NUMBA_VERSIONS = ("numba_v1_naive", "numba_v2_coalesced", "numba_v3_smem", "numba_v4_register")
ALL_VERSIONS = (*NUMBA_VERSIONS, *VERSIONS)  # the default ladder
CHOICES = (*ALL_VERSIONS, STRETCH)  # plus the student's stretch kernel, on request


def numba_matmul(version: str) -> Callable:
    """``matmul(a, b, out) -> out`` through one version of numba_kernels.py."""
    from reference.lab2_matmul import numba_kernels

    name = version.removeprefix("numba_")

    def matmul(a, b, out):
        return numba_kernels.matmul(a, b, out, name)

    return matmul


def version_matmul(version: str, stretch_source: Path | None = None) -> Callable:
    if version == CUBLAS:
        return cublas_matmul
    if version in NUMBA_VERSIONS:
        return numba_matmul(version)
    return cuda_c_matmul(version, stretch_source)


CUBLAS = "cublas"
DEFAULT_SHAPES = ((127, 131, 77), (1, 1, 1), (257, 63, 129), (1000, 1001, 999))
WARMUP = 3
COPY_BYTES = 1 << 30


def parse_shape(text: str) -> tuple[int, int, int]:
    """'MxNxK' (or 'M,N,K') -> (M, N, K); C (M, N) = A (M, K) @ B (K, N)."""
    parts = text.lower().replace(",", "x").split("x")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"shape {text!r} is not MxNxK")
    m, n, k = (int(p) for p in parts)
    if min(m, n, k) < 1:
        raise argparse.ArgumentTypeError(f"shape {text!r}: M, N and K must be >= 1")
    return m, n, k


def shape_str(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape))


@dataclass
class Case:
    """One input pair, on the device, with its float64 reference and tolerances."""

    shape: tuple[int, int, int]
    a: Any
    b: Any
    reference: MatmulReference


def make_case(shape: tuple[int, int, int], seed: int) -> Case:
    import cupy

    m, n, k = shape
    rng = np.random.default_rng([seed, m, n, k])
    a = cupy.asarray(rng.uniform(-1.0, 1.0, (m, k)).astype(np.float32))
    b = cupy.asarray(rng.uniform(-1.0, 1.0, (k, n)).astype(np.float32))
    return Case(shape, a, b, matmul_reference(a, b))


@dataclass
class Result:
    name: str
    ok: bool = True
    error: str | None = None  # why it failed: the shape and ratio, or the exception
    max_error_over_tolerance: float = 0.0
    worst_shape: str | None = None
    checks: dict[str, float] = field(default_factory=dict)  # shape -> error / tolerance
    samples_ms: list[float] = field(default_factory=list)
    median_ms: float | None = None
    tflops: float | None = None
    percent_of_cublas: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["gflops"] = None if self.tflops is None else self.tflops * 1e3
        return d


def validate(fn: Callable, cases: Sequence[Case], result: Result) -> None:
    """Runs fn on every case and records error / tolerance; stops at the first failure."""
    import cupy

    for case in cases:
        label = shape_str(case.shape)
        m, n, _ = case.shape
        out = cupy.full((m, n), cupy.nan, dtype=cupy.float32)
        try:
            fn(case.a, case.b, out)
            cupy.cuda.get_current_stream().synchronize()
            ratio = case.reference.error_over_tolerance(out)
        except Exception as exc:  # a launch failure, a compile error: report it, go on
            result.ok, result.error = False, f"{label}: {type(exc).__name__}: {exc}"
            result.checks[label] = float("inf")
            return
        result.checks[label] = ratio
        if ratio > result.max_error_over_tolerance:  # ratio is never NaN (NaN -> inf)
            result.max_error_over_tolerance, result.worst_shape = ratio, label
        if ratio > 1.0:
            row, col = case.reference.worst_entry(out)
            result.ok = False
            result.error = f"{label}: error / tolerance {ratio:.3g} at C[{row}, {col}]"
            return


def l2_flush_buffer():
    import cupy

    l2 = int(cupy.cuda.Device().attributes.get("L2CacheSize", 0))
    return cupy.empty(max(2 * l2, 256 << 20), dtype=cupy.uint8)


def time_calls(fn: Callable, repeats: int, budget_s: float, flush) -> list[float]:
    """Per-call device times in ms: WARMUP calls, then up to ``repeats`` samples."""
    import cupy

    stream = cupy.cuda.get_current_stream()
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    start.record()
    for _ in range(WARMUP):
        fn()
    end.record()
    end.synchronize()
    per_call_s = cupy.cuda.get_elapsed_time(start, end) / 1e3 / WARMUP
    n = min(repeats, max(3, int(budget_s / max(per_call_s, 1e-9))))
    samples = []
    for _ in range(n):
        cupy.cuda.runtime.memsetAsync(flush.data.ptr, 0, flush.nbytes, stream.ptr)
        start.record()
        fn()
        end.record()
        end.synchronize()
        samples.append(cupy.cuda.get_elapsed_time(start, end))
    return samples


def copy_bandwidth(nbytes: int = COPY_BYTES, repeats: int = 10) -> dict[str, Any]:
    """Device-to-device cudaMemcpyAsync of ``nbytes``: (read + written bytes) / median time."""
    import cupy

    free, _ = cupy.cuda.runtime.memGetInfo()
    nbytes = int(min(nbytes, free // 4))
    src = cupy.ones(nbytes, dtype=cupy.uint8)
    dst = cupy.empty_like(src)
    stream = cupy.cuda.get_current_stream()
    kind = cupy.cuda.runtime.memcpyDeviceToDevice

    def copy() -> None:
        cupy.cuda.runtime.memcpyAsync(dst.data.ptr, src.data.ptr, nbytes, kind, stream.ptr)

    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    copy()
    samples = []
    for _ in range(repeats):
        start.record()
        copy()
        end.record()
        end.synchronize()
        samples.append(cupy.cuda.get_elapsed_time(start, end))
    median_ms = statistics.median(samples)
    return {
        "bytes": 2 * nbytes,
        "median_ms": median_ms,
        "bytes_per_s": 2 * nbytes / (median_ms / 1e3),
        "samples_ms": samples,
    }


def markdown_table(results: Sequence[Result]) -> str:
    lines = [
        "| version | ms | TFLOP/s | % cuBLAS | max error/tolerance |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        err = f"{r.max_error_over_tolerance:.3g}"
        if not r.ok:
            lines.append(f"| {r.name} | FAILED | - | - | {err} ({r.error}) |")
            continue
        pct = "-" if r.percent_of_cublas is None else f"{r.percent_of_cublas:.1f}%"
        lines.append(f"| {r.name} | {r.median_ms:.3f} | {r.tflops:.2f} | {pct} | {err} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import cupy

    device = cupy.cuda.Device()
    props = cupy.cuda.runtime.getDeviceProperties(device.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    size = args.size
    bench_shape = (size, size, size)
    flops = 2.0 * size**3
    print(f"device: {name} (sm_{device.compute_capability})", flush=True)
    print(
        f"benchmark C({size}x{size}) = A({size}x{size}) @ B({size}x{size}): "
        f"{flops / 1e9:.1f} GFLOP, {3 * size * size * 4 / 1e6:.0f} MB of A, B and C",
        flush=True,
    )

    copy = None
    if not args.no_copy:
        copy = copy_bandwidth()
        cupy.get_default_memory_pool().free_all_blocks()  # the 2 GiB of the copy
        print(
            f"device copy: {copy['bytes_per_s'] / 1e9:.0f} GB/s (read + written, "
            f"{copy['bytes'] / 2**30:.0f} GiB moved in {copy['median_ms']:.3f} ms)",
            flush=True,
        )

    t0 = time.perf_counter()
    cases = [make_case(s, args.seed) for s in args.shapes]
    bench_case = make_case(bench_shape, args.seed)
    cases.append(bench_case)
    print(
        f"inputs and float64 references for {len(cases)} shapes: "
        f"{time.perf_counter() - t0:.1f} s; validating on "
        + ", ".join(shape_str(c.shape) for c in cases),
        flush=True,
    )
    flush = l2_flush_buffer()
    m, n, _ = bench_shape
    out = cupy.empty((m, n), dtype=cupy.float32)
    a, b = bench_case.a, bench_case.b

    results: list[Result] = []
    cublas_ms: float | None = None
    for version in (CUBLAS, *args.versions):
        result = Result(version)
        results.append(result)
        try:
            fn = version_matmul(version, args.stretch_source)
        except Exception as exc:  # a compile error: FAILED, the others still run
            result.ok, result.error = False, f"{type(exc).__name__}: {exc}"
            print(f"{version}: FAILED ({result.error})", flush=True)
            continue
        validate(fn, cases, result)
        if not result.ok:
            print(f"{version}: FAILED ({result.error}); not timed", flush=True)
            continue
        call = lambda fn=fn: fn(a, b, out)  # noqa: E731
        result.samples_ms = time_calls(call, args.repeats, args.budget, flush)
        result.median_ms = statistics.median(result.samples_ms)
        result.tflops = flops / (result.median_ms / 1e3) / 1e12
        if version == CUBLAS:
            cublas_ms = result.median_ms
        if cublas_ms is not None:
            result.percent_of_cublas = 100.0 * cublas_ms / result.median_ms
        pct = "" if result.percent_of_cublas is None else f", {result.percent_of_cublas:.1f}%"
        print(
            f"{version}: {result.median_ms:.3f} ms, {result.tflops:.2f} TFLOP/s{pct} of cuBLAS "
            f"({len(result.samples_ms)} samples), max error/tolerance "
            f"{result.max_error_over_tolerance:.3g}",
            flush=True,
        )

    print()
    print(markdown_table(results), flush=True)
    report = {
        "device": name,
        "compute_capability": device.compute_capability,
        "size": size,
        "flops": flops,
        "validation_shapes": [shape_str(c.shape) for c in cases],
        "repeats": args.repeats,
        "warmup": WARMUP,
        "tolerance": {
            "formula": "|out - a@b| <= factor * K * unit_roundoff * (|a| @ |b|) + tiny",
            "factor": FACTOR,
            "unit_roundoff": UNIT_ROUNDOFF,
        },
        "copy_bandwidth": copy,
        "results": [r.to_dict() for r in results],
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}", flush=True)
    return report


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m reference.lab2_matmul.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--size", type=int, default=4096, help="benchmark M = N = K")
    parser.add_argument(
        "--shapes",
        type=parse_shape,
        nargs="*",
        default=list(DEFAULT_SHAPES),
        help="validation shapes MxNxK, checked before the benchmark size (default: "
        + " ".join(shape_str(s) for s in DEFAULT_SHAPES)
        + ")",
    )
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per version")
    parser.add_argument(
        "--budget", type=float, default=10.0, help="seconds of timed calls per version at most"
    )
    parser.add_argument(
        "--versions",
        nargs="*",
        default=list(ALL_VERSIONS),
        choices=CHOICES,
        metavar="VERSION",
    )
    parser.add_argument(
        "--stretch-source",
        type=Path,
        default=None,
        help="the .cu file with sgemm_stretch (default: labs/lab2_matmul/stretch.cu)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-copy", action="store_true", help="skip the copy bandwidth")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.size < 1 or args.repeats < 1:
        parser.error("--size and --repeats must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    return 0 if all(r["ok"] for r in report["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())
