"""The stream kind's scoring (lab 3 part B), from case results: what counts without a GPU, and
what waits for the output to be right."""

from __future__ import annotations

import labs
from grader.check import CaseResult
from grader.kinds.base import ScoreContext
from grader.kinds.stream import COMPILE_CASE, KIND
from grader.results import RunResult
from grader.selftest import Expectation, judge

LAB = labs.get("lab3")
ITEMS = {item.kind: item for item in LAB.rubric if item.task == "stream"}


def _compiled(copies=("cp.async",)) -> CaseResult:
    return CaseResult(
        "stream", COMPILE_CASE, {"compile": True}, True, measures={"copies": list(copies)}
    )


def _score(kind: str, cases, measured: bool):
    ctx = ScoreContext(
        ITEMS[kind], cases, [], None, False, measured, "" if measured else "no CUDA device"
    )
    ctx.task = LAB.task("stream")
    return KIND.score_item(ctx)


def test_without_a_gpu_the_compile_and_the_ptx_count_and_nothing_else_is_guessed() -> None:
    cases = [_compiled()]
    assert _score("technique", cases, False)[:2] == (5, True)
    assert _score("correctness", cases, False)[:2] == (0.0, False)
    assert _score("bandwidth", cases, False)[:2] == (0.0, False)
    assert _score("technique", [_compiled(copies=())], False)[0] == 0.0


def test_on_a_gpu_the_technique_counts_only_with_the_output_right() -> None:
    wrong = CaseResult("stream", "n=1023", {"n": 1023}, False, "nan", "n=1023: 3 wrong")
    right = CaseResult("stream", "n=1023", {"n": 1023}, True)
    assert _score("technique", [_compiled(), wrong], True)[0] == 0.0
    assert _score("correctness", [_compiled(), wrong], True)[0] == 0.0
    assert _score("technique", [_compiled(), right], True)[0] == 5
    assert _score("correctness", [_compiled(), right], True)[0] == 20


def test_a_task_stopped_by_a_process_failure_is_judged_by_that_failure() -> None:
    stopped = CaseResult("stream", "n=1", {"n": 1}, False, "not_run", "not run: ran past the limit")
    stopped.stopped_by = "timeout"
    result = RunResult(
        lab="lab3",
        lab_title="",
        submission="hangs.cu",
        student="hangs",
        mode="gpu",
        device={},
        started_at="",
        seconds=0.0,
        points=0.0,
        max_points=100,
        unmeasured_points=0.0,
        headline="",
        next_steps=[],
        rubric=[],
        cases=[_compiled(), stopped],
        benches=[],
        ceilings={},
        failure=None,
        flags=[],
        not_measured=[],
        logs=[],
        limits={},
    )
    ok, message = judge(result, Expectation("zero", frozenset({"timeout"}), task="stream"))
    assert not ok and "no task" in message  # no rubric lines in this synthetic result
    from grader.score import score

    result.rubric = score(LAB, result.cases, [], None, True)
    ok, message = judge(result, Expectation("zero", frozenset({"timeout"}), task="stream"))
    assert ok, message
