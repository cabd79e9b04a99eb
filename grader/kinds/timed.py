"""What every timed kind shares: output fingerprints while timing, and rating a timed benchmark
against the reference and the physical floor.

While timing, every output is reduced to a fingerprint (its dot product with seeded weights);
only the reference's process computes what each fingerprint must be, so a submission that is
right when checked but wrong (or unfinished) while timed is caught.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.channel import Frame
from grader.check import CaseResult
from grader.kinds.base import ReferenceRun, not_timed
from grader.results import BenchResult
from grader.spec import Benchmark
from grader.timing import TimingStats

FLOOR_FLAG = "faster than the physical floor"
FLOOR_MARGIN = 0.8  # below 80% of bytes / measured bandwidth is not physically credible
REVIEW_SPEEDUP = 10.0  # a speedup above this is flagged for a human


def input_sets(task: Any, params: dict[str, Any], seeds: list[int]) -> list[dict[str, Any]]:
    """One input set per seed, made side by side (:func:`parallel_map`): each has its own
    generator, so the sets are the same whatever the order. At 2^27 elements, one set of lab 0
    took 1.8 s of one core on the H200's host; three in a row were most of a timing process's
    28 s (CWB_PROFILE, 2026-12-01)."""
    return parallel_map(lambda seed: task.make_inputs(params, np.random.default_rng(seed)), seeds)


def parallel_map(fn: Any, items: list[Any]) -> list[Any]:
    """``[fn(x) for x in items]``, side by side (numpy's generators and its maths on large
    arrays release the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    if len(items) < 2:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(fn, items))


def expected_fingerprints(
    expected: list[tuple[np.ndarray, np.ndarray]], tol: Any, weights: np.ndarray
) -> dict[str, list[float]]:
    """Per input set, the weighted sum the output must have and how far it may be off.

    ``expected``: (float64 expected output, tolerance scale) per input set; ``weights``: float64
    of the output's size, the same the child dots each timed output with.
    """
    return {
        "expected_fingerprints": [float(np.dot(e.ravel(), weights)) for e, _ in expected],
        "fingerprint_bounds": [
            float(np.dot(tol.atol + tol.rtol * scale.ravel(), weights)) for _, scale in expected
        ],
    }


def wrong_fingerprints(fingerprints: list, expected: list, bounds: list) -> int:
    """How many (set index, fingerprint) pairs are off by more than their bound (NaN is off)."""
    wrong = 0
    for set_index, fp in fingerprints:
        exp, bound = expected[int(set_index)], bounds[int(set_index)]
        if not (abs(fp - exp) <= bound + 1e-9 * abs(exp)):
            wrong += 1
    return wrong


def reference_problem(header: dict[str, Any]) -> str | None:
    """Why the reference's own timed outputs cannot be trusted, if they cannot (for kinds
    that fingerprint their timed outputs; the others check them where they are timed)."""
    if "fingerprints" not in header:
        return None
    wrong = wrong_fingerprints(
        header["fingerprints"], header["expected_fingerprints"], header["fingerprint_bounds"]
    )
    if wrong:
        return f"the reference solution's outputs failed their own check: {wrong}"
    return None


def judge_timed(
    task: Any, bench: Benchmark, frame: Frame | None, reference: ReferenceRun
) -> tuple[BenchResult, list[CaseResult]]:
    """One benchmark's timing, and a failed case for anything wrong while it was timed."""
    key = (task.name, bench.name)
    ref = reference.benches.get(key)
    stopped = not_timed(task, bench, frame)
    if stopped is not None:
        if ref:
            stopped.reference = TimingStats.from_dict(ref["stats"])
        return stopped, []
    assert frame is not None
    h = frame.header
    result = BenchResult(task.name, bench.name, dict(bench.params), "timed")
    if ref:
        result.reference = TimingStats.from_dict(ref["stats"])
    result.student = TimingStats.from_dict(h["stats"])
    problems = []
    if ref:
        wrong = wrong_fingerprints(
            h["fingerprints"], ref["expected_fingerprints"], ref["fingerprint_bounds"]
        )
        if wrong:
            total = len(h["fingerprints"])
            problems.append(("timing_output_wrong", f"{wrong} of {total} outputs were wrong"))
    if h.get("guard_violations"):
        calls = h["guard_violations"]
        problems.append(("out_of_bounds", f"the kernel wrote outside `out` in {calls} calls"))
    copy_bw = reference.ceilings.get("copy_bandwidth", {}).get("bytes_per_s")
    rate(task, result, result.student, copy_bw)
    wrong_cases = [
        CaseResult(
            task.name, f"while timing {bench.name}", dict(bench.params), False, code, message
        )
        for code, message in problems
    ]
    return result, wrong_cases


def rate(task: Any, result: BenchResult, stats: TimingStats, copy_bw: float | None) -> None:
    """Speedup over the reference; bandwidth against the floor; flags for what is not credible."""
    if result.reference and stats.median_s > 0:
        result.speedup = result.reference.median_s / stats.median_s
        if result.speedup > REVIEW_SPEEDUP:
            result.flags.append(
                f"{result.speedup:.1f}x faster than the reference: flagged for a human to look at"
            )
    traffic_bytes = getattr(task, "traffic_bytes", None)
    if traffic_bytes and copy_bw:
        traffic = traffic_bytes(result.params)
        result.traffic_bytes = traffic
        result.floor_s = traffic / copy_bw
        result.bandwidth_bytes_per_s = traffic / stats.median_s
        result.fraction_of_copy_bandwidth = result.bandwidth_bytes_per_s / copy_bw
        if stats.median_s < FLOOR_MARGIN * result.floor_s:
            result.flags.append(
                f"{FLOOR_FLAG}: {stats.median_s * 1e6:.1f} us against a floor of "
                f"{result.floor_s * 1e6:.1f} us ({traffic / 1e6:.1f} MB at the measured "
                f"copy bandwidth)"
            )
    if stats.host_median_s is not None and stats.median_s > 1.05 * stats.host_median_s + 2e-5:
        result.flags.append("the event timer reads longer than the host clock: tampering?")
    if stats.strict_start:
        result.message = (
            "work went on after the function returned (another stream): timed from a "
            "synchronised start to an idle device, so the host's launch overhead counts"
        )
