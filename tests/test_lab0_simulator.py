"""Lab 0 graded under numba's CUDA simulator: the reference passes, every known-wrong fixture
scores 0 for the reason its header names, and the grader carries on after each of them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.runner import Grader, Options
from grader.selftest import fixtures
from labs import get

LAB = get("lab0")
TIMEOUT_S = 8.0  # every hang fixture costs this much


@pytest.fixture(scope="module")
def grader() -> Grader:
    return Grader(LAB, Options(mode="simulator", timeout_s=TIMEOUT_S))


ALL_FIXTURES = fixtures(Grader(LAB, Options(mode="simulator")))


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
    assert graded.case_jobs(task)[0]["seeds"] != public.case_jobs(task)[0]["seeds"]
    assert graded.grade(LAB.solution_path).points == 60
