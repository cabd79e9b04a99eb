"""Rubric -> points.

Correctness is all-or-nothing per task: a kernel that is wrong at one size is wrong. Speed
points need a correct kernel and a measurement: under the simulator they are "not measured",
never guessed. A flag for review (faster than the physical floor) withholds speed points; a
cheating or interfering failure (``Reason.zero_all``) withholds everything.
"""

from __future__ import annotations

import math

from grader.check import CaseResult
from grader.results import BenchResult, Failure, RubricLine
from grader.spec import Lab, RubricItem
from grader.verdicts import reason

FLOOR_FLAG = "faster than the physical floor"


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
    speedups = [b.speedup for b in timed if b.speedup is not None]
    if not timed or len(speedups) != len(timed):
        return 0.0, True, "0: some benchmarks could not be timed"
    mean = geometric_mean(speedups)
    points = round(item.points * item.speed.fraction(mean), 2)
    return (
        points,
        True,
        (
            f"{mean:.2f}x the reference (geometric mean over {len(timed)} sizes); "
            f"0 points at {item.speed.zero_at}x, full at {item.speed.full_at}x"
        ),
    )
