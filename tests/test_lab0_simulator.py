"""Lab 0 graded under numba's CUDA simulator: the reference passes, every known-wrong fixture
scores 0 for the reason its header names, and the grader carries on after each of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.runner import Grader, Options
from grader.selftest import fixtures, judge, read_expectation
from labs import get

LAB = get("lab0")
TIMEOUT_S = 8.0  # every hang fixture costs this much


@pytest.fixture(scope="module")
def grader() -> Grader:
    return Grader(LAB, Options(mode="simulator", timeout_s=TIMEOUT_S))


def _fixture_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


ALL_FIXTURES = fixtures(Grader(LAB, Options(mode="simulator")))


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=_fixture_id)
def test_fixture_is_graded_as_its_header_says(grader: Grader, path: Path) -> None:
    expectation = read_expectation(path)
    if expectation.needs_gpu:
        pytest.skip("this fixture needs a GPU (it grades like the reference there)")
    result = grader.grade(path, student=path.stem)
    ok, message = judge(result, expectation)
    assert ok, f"{message}\n{result.failure}"
    if expectation.outcome == "zero":
        assert result.failure.message, "a zero must come with an explanation"
        assert result.failure.hint, "and with something to do about it"


def test_the_untouched_stub_scores_zero_and_says_what_to_do(grader: Grader) -> None:
    result = grader.grade(LAB.student_path, student="you")
    assert result.points == 0
    assert result.failure.reason == "not_implemented"
    assert "labs/lab0_vecadd/student.py" in result.next_steps[0]
    assert "FILL ME IN" in result.next_steps[0]
    assert any("not measured" in step.lower() for step in result.next_steps)


def test_the_reference_is_correct_and_its_speed_is_not_measured(grader: Grader) -> None:
    result = grader.grade(LAB.solution_path)
    assert result.points == 60 and result.unmeasured_points == 40
    assert all(case.passed for case in result.cases) and len(result.cases) == len(
        LAB.task("saxpy").sim_cases
    )
    assert result.benches == [] and result.not_measured == ["no CUDA device"]


def test_a_stubborn_grandchild_is_killed_not_left_running(grader: Grader) -> None:
    result = grader.grade(LAB.reference_folder / "wrong" / "spawns_child.py")
    assert result.failure.reason == "spawned_process"
    survivors = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"SIG_IGN" in cmdline:
            survivors.append(pid)
    assert survivors == []


def test_secret_seeds_change_the_inputs_but_not_the_verdict() -> None:
    graded = Grader(LAB, Options(mode="simulator", secret="s3cret", timeout_s=TIMEOUT_S))
    public = Grader(LAB, Options(mode="simulator"))
    task = LAB.task("saxpy")
    assert graded._cases(task)[0]["seeds"] != public._cases(task)[0]["seeds"]
    assert graded.grade(LAB.solution_path).points == 60
