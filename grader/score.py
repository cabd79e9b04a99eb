"""Rubric -> points.

Correctness is all-or-nothing per task: a kernel that is wrong at one size is wrong. Speed
points need a correct kernel and a measurement: under the simulator they are "not measured",
never guessed. A flag for review (faster than the physical floor) withholds speed points; a
cheating or interfering failure (``Reason.zero_all``) withholds everything.
"""

from __future__ import annotations

import math

from grader.check import CaseResult
from grader.pipeline_judge import EVENT_TIMING_TOLERANCE, hidden_syncs
from grader.results import BenchResult, Failure, RubricLine
from grader.spec import Lab, RubricItem
from grader.verdicts import reason

FLOOR_FLAG = "faster than the physical floor"
PIPELINE_KINDS = ("speedup", "overlap", "sync", "event_timing")
SHARE_OF_REFERENCE = 0.9  # full points at 90% of what the reference solution reached


def geometric_mean(values: list[float]) -> float:
    if not values or any(not (v > 0) for v in values):
        return math.nan
    return math.exp(sum(math.log(v) for v in values) / len(values))


def score(
    lab: Lab,
    cases: list[CaseResult],
    benches: list[BenchResult],
    failure: Failure | None,
    measured_speed: bool,
    not_measured_why: str = "",
) -> list[RubricLine]:
    lines = []
    zeroed = (
        f"0: {reason(failure.reason).title.lower()}"
        if failure is not None and reason(failure.reason).zero_all
        else None
    )
    for item in lab.rubric:
        task_cases = [c for c in cases if c.task == item.task]
        correct = bool(task_cases) and all(c.passed for c in task_cases) and zeroed is None
        if item.kind == "correctness":
            passed = sum(c.passed for c in task_cases)
            detail = zeroed or f"{passed} of {len(task_cases)} cases passed"
            points, measured = (item.points if correct else 0.0), True
        elif item.kind in PIPELINE_KINDS:
            timed = [b for b in benches if b.task == item.task]
            points, measured, detail = _pipeline(
                item, timed, zeroed, correct, measured_speed, not_measured_why
            )
        elif item.kind == "misses":
            points, measured, detail = _misses(item, task_cases, zeroed, correct)
        elif item.kind == "speed" and item.speed is not None:
            timed = [b for b in benches if b.task == item.task]
            points, measured, detail = _speed(
                item, timed, zeroed, correct, measured_speed, not_measured_why
            )
        else:
            raise ValueError(f"unknown rubric item kind {item.kind!r}")
        lines.append(RubricLine(item.task, item.kind, points, item.points, measured, detail))
    return lines


def _speed(
    item: RubricItem,
    timed: list[BenchResult],
    zeroed: str | None,
    correct: bool,
    measured_speed: bool,
    not_measured_why: str,
) -> tuple[float, bool, str]:
    """(points, measured, how) for one speed item."""
    if zeroed:
        return 0.0, True, zeroed
    if not correct:
        return 0.0, True, "0: speed counts only once every case is correct"
    if not measured_speed:
        return 0.0, False, f"not measured: {not_measured_why}"
    if any(FLOOR_FLAG in " ".join(b.flags) for b in timed):
        return 0.0, True, f"withheld: {FLOOR_FLAG}; flagged for review"
    against_library = item.speed.of == "ceiling"
    ratios = [b.share_of_library if against_library else b.speedup for b in timed]
    ratios = [r for r in ratios if r is not None]
    if not timed or len(ratios) != len(timed):
        return 0.0, True, "0: some benchmarks could not be timed"
    mean = geometric_mean(ratios)
    points = round(item.points * item.speed.fraction(mean), 2)
    if against_library:
        library = timed[0].library_name or "the library"
        how = (
            f"{100 * mean:.1f}% of {library}'s speed (geometric mean over {len(timed)} sizes, "
            f"timed in the same run); 0 points at {100 * item.speed.zero_at:g}%, full at "
            f"{100 * item.speed.full_at:g}%"
        )
    else:
        how = (
            f"{mean:.2f}x the reference (geometric mean over {len(timed)} sizes); "
            f"0 points at {item.speed.zero_at}x, full at {item.speed.full_at}x"
        )
    return points, True, how


def _misses(
    item: RubricItem, cases: list[CaseResult], zeroed: str | None, correct: bool
) -> tuple[float, bool, str]:
    """(points, measured, how) for a cache task: the mean over cases of where the misses fall
    between the unblocked order (0) and the reference blocking (full)."""
    if zeroed:
        return 0.0, True, zeroed
    if not correct:
        return 0.0, True, "0: misses count only once every order is complete"
    measures = [c.measures for c in cases if c.measures]
    if len(measures) != len(cases):
        return 0.0, True, "0: some cases were not simulated"
    fraction = sum(m["fraction"] for m in measures) / len(measures)
    mine = sum(sum(m["misses"].values()) for m in measures)
    ref = sum(sum(m["reference_misses"].values()) for m in measures)
    base = sum(sum(m["baseline_misses"].values()) for m in measures)
    return (
        round(item.points * fraction, 2),
        True,
        (
            f"{mine} misses over {len(measures)} cases, against {ref} for the reference "
            f"blocking and {base} unblocked; per case, full points at up to "
            f"{measures[0]['slack']:g}x the reference's misses, 0 at the unblocked order's"
        ),
    )


def _pipeline(
    item: RubricItem,
    timed: list[BenchResult],
    zeroed: str | None,
    correct: bool,
    measured: bool,
    not_measured_why: str,
) -> tuple[float, bool, str]:
    """(points, measured, how) for a pipeline's speedup, overlap, sync or event-timing item."""
    if zeroed:
        return 0.0, True, zeroed
    if not correct:
        return 0.0, True, "0: counts only once every case is correct"
    if not measured:
        return 0.0, False, f"not measured: {not_measured_why}"
    if not timed or any(b.status != "timed" for b in timed):
        return 0.0, True, "0: some benchmarks could not be timed"
    fractions, details = [], []
    for bench in timed:
        fraction, detail = _PIPELINE_RULES[item.kind](bench)
        if fraction is None:
            return 0.0, False, f"not measured: {detail}"
        fractions.append(fraction)
        details.append(detail)
    points = round(item.points * min(fractions), 2)
    return points, True, "; ".join(details)


def _share(value: float, reference: float) -> float:
    """0 at 1x (no better than serial), full at 90% of the reference's gain over 1x."""
    target = 1.0 + SHARE_OF_REFERENCE * (reference - 1.0)
    if not value > 1.0 or not target > 1.0:
        return 0.0
    return min(1.0, (value - 1.0) / (target - 1.0))


def _speedup_rule(bench: BenchResult) -> tuple[float | None, str]:
    mine, ref = bench.baseline_speedup, bench.reference_baseline_speedup
    if mine is None or ref is None:
        return None, "the serial baseline was not timed"
    return _share(mine, ref), (
        f"{mine:.2f}x the serial baseline (the reference solution: {ref:.2f}x; full points "
        f"at {1 + SHARE_OF_REFERENCE * (ref - 1):.2f}x)"
    )


def _overlap_rule(bench: BenchResult) -> tuple[float | None, str]:
    if not bench.trace or not bench.reference_trace:
        return None, "no trace"
    mine = bench.trace["concurrency"]
    ref = bench.reference_trace["concurrency"]
    return _share(mine, ref), (
        f"on average {mine:.2f} engines busy at once over the run (the reference: {ref:.2f}); "
        f"all three busy {100 * bench.trace['three_busy_fraction']:.0f}% of the time; "
        f"{bench.trace['over_bound']:.2f}x the trace's lower bound"
    )


def _sync_rule(bench: BenchResult) -> tuple[float | None, str]:
    if not bench.trace:
        return None, "no trace"
    found = hidden_syncs(bench)
    if found:
        return 0.0, "0: " + " | ".join(found)
    return 1.0, "no host synchronisation before the last piece of work was issued"


def _event_timing_rule(bench: BenchResult) -> tuple[float | None, str]:
    error = bench.event_timing_error
    if error is None:
        return 0.0, "0: run did not return its elapsed milliseconds as a number"
    ok = error <= EVENT_TIMING_TOLERANCE
    return float(ok), (
        f"your events differ from the grader's by {100 * error:.1f}% (median; full points "
        f"within {100 * EVENT_TIMING_TOLERANCE:.0f}%)"
    )


_PIPELINE_RULES = {
    "speedup": _speedup_rule,
    "overlap": _overlap_rule,
    "sync": _sync_rule,
    "event_timing": _event_timing_rule,
}
