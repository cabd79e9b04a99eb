"""Hostile frames graded end to end (simulator): a submission's process writes, through the
harness's own writer, frames the harness would never send. Each is the submission's failure
with a verdict, never a crash of the grader, and never a result the grader's worker owns.

The parent's side of each: :func:`grader.channel.clean_header` (routing keys, integers, the
values of one header and of one process), :func:`grader.judge.attributed` (which process may
speak for which task) and :func:`grader.judge._guarded` (a frame the kind cannot read).
"""

from __future__ import annotations

import resource
import shutil
from pathlib import Path

import pytest

import labs
from grader.runner import Grader, Options
from grader.spec import ROOT

FIND_HARNESS = """
import gc as _gc


def _harness():
    return next(o for o in _gc.get_objects() if type(o).__name__ == "Harness")
"""

LAB0 = (ROOT / "reference" / "lab0_vecadd" / "solution.py").read_text()
LAB3 = ROOT / "reference" / "lab3_pipeline"


def _grade(lab: str, path: Path):
    return Grader(labs.get(lab), Options(mode="simulator", timeout_s=120, secret="s")).grade(path)


def _lab0(tmp_path: Path, sends: str) -> Path:
    """Lab 0's reference, whose saxpy first sends what ``sends`` says (h: the harness)."""
    path = tmp_path / "student.py"
    attack = (
        FIND_HARNESS
        + f"""

_saxpy = saxpy


def saxpy(a, x, y, out):
    h = _harness()
{sends}
    return _saxpy(a, x, y, out)
"""
    )
    path.write_text(LAB0 + attack)
    return path


def _lab3(tmp_path: Path, attack: str) -> Path:
    """Lab 3's reference (Python and CUDA C), with ``attack`` run when it is imported."""
    path = tmp_path / "student.py"
    path.write_text((LAB3 / "solution.py").read_text() + "\n" + FIND_HARNESS + attack)
    shutil.copy(LAB3 / "solution.cu", tmp_path / "student.cu")
    return path


def _zeroed_for_review(result, reason: str) -> None:
    assert result.failure is not None and result.failure.reason == reason, result.failure
    assert result.points == 0
    assert any(flag.startswith("needs review") for flag in result.flags), result.flags


# -- 1. a frame for a task the grader's worker runs ----------------------------------------------


def test_the_submission_cannot_speak_for_a_task_the_graders_worker_runs(tmp_path: Path) -> None:
    # Lab 3's stream task is compiled and checked by the grader's worker, never by the
    # submission's process: a "case" frame for it from there is a forgery, even though the
    # worker's own frame for the same case arrives too.
    path = _lab3(
        tmp_path,
        """
_harness().send({"type": "case", "task": "stream", "case": "compiles", "call": 0,
                 "status": "returned", "copies": ["cp.async", "cp.async.bulk"]})
""",
    )
    result = _grade("lab3", path)
    _zeroed_for_review(result, "channel")
    assert "'stream'" in result.failure.message and "worker" in result.failure.message


def test_the_honest_lab3_reference_is_not_taken_for_a_forger(tmp_path: Path) -> None:
    result = _grade("lab3", _lab3(tmp_path, ""))
    assert result.failure is None and result.points > 0


def test_a_worker_run_tasks_bench_frame_from_the_submission_is_forged_too() -> None:
    from grader.channel import Frame
    from grader.judge import attributed
    from grader.sandbox import ChildOutcome, Phase

    def outcome(process: str, *frames: dict) -> ChildOutcome:
        hello = Frame({"type": "hello", "process": process})
        return ChildOutcome(
            [hello, *(Frame(f) for f in frames)], 0, False, 1.0, False, 1, "", "", 0, None, [], 0.1
        )

    lab = labs.get("lab4")  # "measure": checked in the child, timed in the worker
    bench = {"type": "bench", "task": "measure", "bench": "sweep"}
    honest = Phase([outcome("child"), outcome("worker", bench)])
    frames, forged = attributed(
        lab, honest, "bench", lambda h: h["bench"], lambda k: k.time_in_worker or k.replays
    )
    assert forged is None and set(frames) == {"sweep"}
    hostile = Phase([outcome("child", bench), outcome("worker")])
    frames, forged = attributed(
        lab, hostile, "bench", lambda h: h["bench"], lambda k: k.time_in_worker or k.replays
    )
    assert frames == {} and forged is not None and forged.reason == "channel"
    # A child whose later frame claims to be the worker is still the child: only the first
    # frame (the harness's, written before the submission is loaded) says which process it is.
    claims = Phase([outcome("child", {"type": "hello", "process": "worker"}, bench)])
    assert attributed(lab, claims, "bench", lambda h: h["bench"], lambda k: k.time_in_worker)[1]


# -- 2. values that crash arithmetic, keys that are not keys -----------------------------------


def test_a_frame_whose_task_is_a_list_is_a_malformed_channel_not_a_crash(tmp_path: Path) -> None:
    path = _lab0(tmp_path, '    h.send({"type": "case", "task": [], "case": "n=1", "call": 0})')
    result = _grade("lab0", path)
    _zeroed_for_review(result, "channel")
    assert "'task'" in result.failure.message


def test_an_integer_too_large_for_a_float_is_a_wrong_answer_not_a_crash(tmp_path: Path) -> None:
    path = _lab3(
        tmp_path,
        """

def bytes_in_flight_per_sm(bandwidth_bytes_per_s, latency_s, sms):
    return 10**400
""",
    )
    result = _grade("lab3", path)
    wrong = [c for c in result.cases if not c.passed]
    assert [c.case for c in wrong] == ["bytes_in_flight_per_sm"], wrong
    assert wrong[0].reason == "wrong_answer"


def test_a_huge_elapsed_time_is_no_time() -> None:
    from grader.channel import Frame
    from grader.check import call_result

    for value in (10**400, float("inf"), float("nan"), -1.0, True, "3"):
        header = {"case": "c", "status": "returned", "elapsed_s": value}
        assert call_result("t", {}, Frame(header)).elapsed_s is None
    assert call_result("t", {}, Frame({"status": "returned", "elapsed_s": 2})).elapsed_s == 2.0


def test_a_tampered_frame_with_a_malformed_list_still_reads_as_tampering() -> None:
    from grader.channel import Frame
    from grader.failures import process_failure
    from grader.sandbox import ChildOutcome

    for replaced in (None, 5, "time.perf_counter", {"a": 1}, list(range(50))):
        frames = [Frame({"type": "tampered", "replaced": replaced}), Frame({"type": "done"})]
        outcome = ChildOutcome(frames, 0, False, 1.0, False, 1, "", "", 0, None, [], 0.1)
        found = process_failure(outcome, "checking")
        assert found.reason == "tampered" and len(found.message) < 2000


def test_any_exception_while_judging_a_frame_is_the_submissions_protocol_failure() -> None:
    from grader.judge import _guarded

    case = {"name": "c", "params": {}}
    task = labs.get("lab0").tasks[0]
    for error in (
        OverflowError("int too large"),
        ZeroDivisionError(),
        RecursionError(),
        KeyError(),
    ):

        def judge_call(*args, error=error):
            raise error

        result = _guarded(judge_call, task, case, 0, None, 0)
        assert not result.passed and result.reason == "protocol"
        assert type(error).__name__ in result.message


# -- 3. memory: headers cheap to send, dear to hold ------------------------------------------------


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize(
    "per_key, count, said",
    [
        # ~1 MB headers of "{}, " (18 MB of objects each): 250 of them took the parent to 4.5 GiB.
        pytest.param(85_000, 250, "values", id="one-header-over-the-cap"),
        # Each header just under the per-header cap: 3 000 of them took the parent to 9.4 GiB.
        pytest.param(33_000, 3_000, "values in all", id="many-headers-over-the-process-total"),
    ],
)
def test_headers_of_many_values_are_stopped_before_they_fill_the_graders_memory(
    tmp_path: Path, per_key: int, count: int, said: str
) -> None:
    sends = f"""
    blob = {{"type": "junk", **{{k: [{{}}] * {per_key} for k in "abc"}}}}
    for _ in range({count}):
        h.send(blob)"""
    before = _peak_mib()
    result = _grade("lab0", _lab0(tmp_path, sends))
    _zeroed_for_review(result, "channel")
    assert said in result.failure.message
    assert _peak_mib() - before < 500
