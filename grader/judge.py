"""The parent's judgement of a phase: every frame a child sent, handed to its task's kind.

The kinds judge one call or one benchmark; this module walks the lab's tasks in order, pairs
each case and benchmark with its frame (a missing frame is a case not run, with the process's
failure as the reason), and turns the first failing case into the submission's failure.
"""

from __future__ import annotations

from collections.abc import Mapping

from grader import failures
from grader.check import CaseResult
from grader.jobs import case_jobs
from grader.kinds import kind_of
from grader.kinds.base import ReferenceRun
from grader.results import BenchResult, Failure
from grader.sandbox import Phase
from grader.spec import Lab


def judge_check(
    lab: Lab,
    outcome: Phase,
    mode: str,
    secret: str | None,
    fields: Mapping[str, str],
    only: list[str] | None = None,
) -> tuple[list[CaseResult], Failure | None]:
    """Every case of every task, judged from the check phase's frames; and the failure, if any.

    ``fields`` fill the failure hints' placeholders (the student's file, the lab's name).
    """
    frames = {
        (f.header.get("task"), f.header.get("case"), f.header.get("call")): f
        for f in outcome.of_type("case")
    }
    failure = failures.phase_failure(outcome, "checking", fields)
    results: list[CaseResult] = []
    for task in lab.tasks:
        if only is not None and task.name not in only:
            continue
        kind = kind_of(task)
        for case in case_jobs(task, mode, secret):
            result = None
            for call, seed in enumerate(case["seeds"]):
                frame = frames.get((task.name, case["name"], call))
                if frame is None:
                    why = failure.title.lower() if failure else "stopped before this case"
                    stopped_by = failure.reason if failure else None
                    result = failures.not_run(task.name, case, why, stopped_by)
                    break
                result = _guarded(kind.judge_call, task, case, seed, frame, call)
                if not result.passed:
                    break
            assert result is not None
            results.append(result)
    return results, failure or first_failure(lab, results, fields)


def _protocol(task_name: str, case: dict, exc: Exception) -> CaseResult:
    return CaseResult(
        task_name,
        case["name"],
        dict(case["params"]),
        False,
        "protocol",
        "the submission's process sent a result the grader cannot read "
        f"({type(exc).__name__}: {str(exc)[:200]})",
    )


def _guarded(judge_call, task, case: dict, seed: int, frame, call: int) -> CaseResult:
    """A kind's judgement of a frame; a frame it cannot read is the submission's failure
    (the frame came from the submission's process), never a crash of the grader."""
    try:
        return judge_call(task, case["params"], seed, frame, call)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        return _protocol(task.name, case, exc)


def first_failure(lab: Lab, results: list[CaseResult], fields: Mapping[str, str]) -> Failure | None:
    """The submission's failure: its first failing case's, or a run that stopped early."""
    first = next((r for r in results if not r.passed and r.reason != "not_run"), None)
    if first is not None:
        return failures.failure(
            first.reason or "wrong_answer",
            f"{first.case}: {first.message}",
            traceback=first.traceback,
            fields=fields,
            task=lab.task(first.task),
        )
    if any(r.reason == "not_run" for r in results):
        return failures.failure("no_result", "the run stopped before every case had run")
    return None


def judge_time(
    lab: Lab, outcome: Phase, reference: ReferenceRun, timed_tasks: list[str]
) -> tuple[list[BenchResult], Failure | None, list[CaseResult], dict[tuple[str, str], object]]:
    """Every benchmark of the timed tasks: (results, failure, wrong-while-timed cases, frames)."""
    failure = failures.phase_failure(outcome, "timing")
    frames = {(f.header.get("task"), f.header.get("bench")): f for f in outcome.of_type("bench")}
    results: list[BenchResult] = []
    extra_cases: list[CaseResult] = []
    for task in lab.tasks:
        if task.name not in timed_tasks:
            continue
        kind = kind_of(task)
        for bench in task.benchmarks:
            frame = frames.get((task.name, bench.name))
            try:
                result, wrong = kind.judge_bench(task, bench, frame, reference)
            except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
                result = BenchResult(task.name, bench.name, dict(bench.params), "error")
                result.message = f"the timing frame could not be read ({type(exc).__name__})"
                case = {"name": f"while timing {bench.name}", "params": dict(bench.params)}
                wrong = [_protocol(task.name, case, exc)]
            results.append(result)
            extra_cases.extend(wrong)
    if failure is None and extra_cases:
        first = extra_cases[0]
        failure = failures.failure(first.reason or "timing_output_wrong", first.message)
    return results, failure, extra_cases, frames
