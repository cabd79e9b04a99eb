"""The parent's side of a cache task: check a loop order, count its misses, score them.

A case passes when the order visits every (i, j, k) exactly once. Its misses are then counted
by the simulator for that case's cache, next to the reference blocking's and the unblocked
order's on the same cache; the "misses" rubric item scores where the student's total falls
between the two.
"""

from __future__ import annotations

from typing import Any

from grader.channel import Frame
from grader.check import CaseResult, call_result
from grader.spec import CacheTask

MAX_SHOWN = 3


_KNOWN: dict[tuple, tuple[dict[str, int], dict[str, int]]] = {}


def known_counts(task: CacheTask, params: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """Misses of the reference and of the unblocked order for one case (the same for everyone,
    so a class's grading counts them once). Case parameters are flat scalars."""
    key = (task.name, tuple(sorted(params.items())))
    if key not in _KNOWN:
        _KNOWN[key] = (
            task.count(task.reference(params), params),
            task.count(task.baseline(params), params),
        )
    return _KNOWN[key]


def judge_call(task: CacheTask, params: dict[str, Any], frame: Frame, call: int) -> CaseResult:
    """One case: the order the child sent, checked and replayed through the simulator."""
    result = call_result(task.name, params, frame)
    if result.reason:
        return result
    problem = frame.header.get("problem", "")
    order = frame.arrays.get("order")
    problems = [problem] if problem else task.validate(order, params)
    if problems:
        result.reason = "wrong_order"
        result.message = "; ".join(problems[:MAX_SHOWN])
        result.mismatches = problems[:MAX_SHOWN]
        return result
    mine = task.count(order, params)
    reference, baseline = known_counts(task, params)
    result.passed = True
    result.measures = {
        "cache": task.describe(params),
        "misses": mine,
        "reference_misses": reference,
        "baseline_misses": baseline,
        "fraction": miss_fraction(sum(mine.values()), reference, baseline, task.slack),
        "slack": task.slack,
    }
    return result


def miss_fraction(
    mine: int, reference: dict[str, int], baseline: dict[str, int], slack: float
) -> float:
    """0 at the unblocked order's misses (or more), 1 at ``slack`` x the reference's (or fewer)."""
    full = slack * sum(reference.values())
    zero = float(sum(baseline.values()))
    if mine <= full:
        return 1.0
    if mine >= zero or zero <= full:
        return 0.0
    return (zero - mine) / (zero - full)
