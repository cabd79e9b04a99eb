"""Lab 1 graded under numba's CUDA simulator: every pipeline's correctness is real (streams,
events and copies run in order there), the race check and every timing figure need a GPU and
say so, and the known-wrong fixtures that can fail without one fail for their reason."""

from __future__ import annotations

import numpy as np
import pytest

from grader.channel import Frame
from grader.kinds.pipeline import KIND as PIPELINE_KIND
from grader.runner import Grader, Options
from labs import get

LAB = get("lab1")
TASK = LAB.task("pipeline")


@pytest.fixture(scope="module")
def grader() -> Grader:
    return Grader(LAB, Options(mode="simulator", timeout_s=60))


def test_the_reference_is_correct_and_nothing_else_is_guessed(grader: Grader) -> None:
    result = grader.grade(LAB.solution_path)
    assert result.points == 40 and result.unmeasured_points == 60
    assert all(line.detail.startswith("not measured") for line in result.rubric[1:])
    assert len(result.cases) == len(TASK.sim_cases)


def test_the_race_check_is_on_only_with_a_gpu() -> None:
    on_gpu = Grader(LAB, Options(mode="gpu")).case_jobs(TASK)
    simulated = Grader(LAB, Options(mode="simulator")).case_jobs(TASK)
    assert all(case["stress"] == [False, False, True] for case in on_gpu)
    assert all(not any(case["stress"]) for case in simulated)


def _frame(output: np.ndarray, x: np.ndarray, stressed: bool) -> Frame:
    header = {"type": "case", "case": "c", "status": "returned", "stressed": stressed}
    return Frame(header, {"output": output, "input": x})


def test_a_wrong_answer_under_the_slow_table_is_called_a_race() -> None:
    params = {"n": 100, "chunks": 3, "streams": 2, "work": 16}
    inputs = TASK.make_inputs(params, np.random.default_rng(0))
    right = TASK.reference(inputs, params).astype(np.float32)
    stale = right + 0.25
    assert PIPELINE_KIND.judge_call(TASK, params, 0, _frame(right, inputs["x"], True), 2).passed
    raced = PIPELINE_KIND.judge_call(TASK, params, 0, _frame(stale, inputs["x"], True), 2)
    assert raced.reason == "race" and "prepare_table" in raced.message
    cached = PIPELINE_KIND.judge_call(TASK, params, 0, _frame(stale, inputs["x"], False), 1)
    assert cached.reason == "stale"
    late = PIPELINE_KIND.judge_call(
        TASK, params, 0, _frame(np.full(100, np.nan, np.float32), inputs["x"], False), 0
    )
    assert late.reason == "unwritten" and "Synchronise before returning" in late.message
