"""Rubric -> points.

Correctness is all-or-nothing per task: a kernel that is wrong at one size is wrong. Every other
rubric item is scored by its task's kind (:mod:`grader.kinds`), with the same ground rules:
points beyond correctness need a correct task and, where they come from timings, a measurement
(under the simulator they are "not measured", never guessed); a cheating or interfering failure
(``Reason.zero_all``) withholds everything.

Each line says which of those it is (``RubricLine.status``): an item whose task is not correct
is "not counted: correctness first", whatever the mode, rather than a 0 that reads like a slow
kernel; the points are the same 0 either way.
"""

from __future__ import annotations

import re

from grader.check import CaseResult
from grader.kinds import kind_of
from grader.kinds.base import ScoreContext
from grader.results import NOT_COUNTED, BenchResult, Failure, RubricLine
from grader.spec import Lab, RubricItem
from grader.verdicts import reason

# How a kind says an item scored 0 because its task is not yet correct ("0: speed counts only
# once every case is correct", "0: misses count only once every order is complete"). Such an
# item is shown as "not counted: correctness first", with the kind's own rule in brackets.
WAITED = re.compile(r"^0: (.*\bonly once\b.*)$")


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
        kind = kind_of(lab.task(item.task))
        if item.kind == "correctness" and not kind.scores_correctness:
            passed = sum(c.passed for c in task_cases)
            detail = zeroed or f"{passed} of {len(task_cases)} cases passed"
            points, measured = (item.points if correct else 0.0), True
        else:
            context = ScoreContext(
                item=item,
                cases=task_cases,
                benches=[b for b in benches if b.task == item.task],
                zeroed=zeroed,
                correct=correct,
                measured=measured_speed,
                not_measured_why=not_measured_why,
                failure=failure,
                task=lab.task(item.task),
            )
            points, measured, detail = kind.score_item(context)
            waited = WAITED.match(detail) if item.kind != "correctness" else None
            if waited and zeroed is None and not correct and measured and points == 0:
                lines.append(_not_counted(item, task_cases, waited.group(1)))
                continue
        lines.append(RubricLine(item.task, item.kind, points, item.points, measured, detail))
    return lines


def _not_counted(item: RubricItem, cases: list[CaseResult], rule: str) -> RubricLine:
    passed = sum(c.passed for c in cases)
    detail = (
        f"not counted: correctness first ({rule}; {item.task}: {passed} of {len(cases)} "
        "cases passed)"
    )
    return RubricLine(item.task, item.kind, 0.0, item.points, True, detail, NOT_COUNTED)
