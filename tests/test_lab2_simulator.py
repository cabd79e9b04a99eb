"""Lab 2 graded without a GPU: part A (the cache simulator) is fully measured on the CPU, part
B's correctness runs under numba's simulator, and its speed says "not measured". Every
known-wrong fixture that can fail without a GPU fails for its reason, and only its own task
loses points."""

from __future__ import annotations

import numpy as np
import pytest

from grader.channel import Frame
from grader.kinds.cache import KIND as CACHE_KIND
from grader.kinds.cache import as_order, known_counts, miss_fraction
from grader.runner import Grader, Options
from labs import get

LAB = get("lab2")
BLOCKING = LAB.task("blocking")


@pytest.fixture(scope="module")
def grader() -> Grader:
    return Grader(LAB, Options(mode="simulator", timeout_s=120))


def test_the_reference_gets_every_cpu_point_and_no_guessed_speed(grader: Grader) -> None:
    result = grader.grade(LAB.solution_path)
    by_kind = {(line.task, line.kind): line for line in result.rubric}
    assert by_kind[("blocking", "misses")].points == 20 and by_kind[("blocking", "misses")].measured
    assert by_kind[("matmul", "correctness")].points == 35
    assert not by_kind[("matmul", "speed")].measured
    assert result.points == 70 and result.unmeasured_points == 30
    cache_cases = [c for c in result.cases if c.measures]
    assert len(cache_cases) == len(BLOCKING.cases)
    assert all(c.measures["fraction"] == 1.0 for c in cache_cases)


def test_a_wrong_part_a_does_not_cost_part_b_its_check(grader: Grader) -> None:
    path = LAB.reference_folder / "wrong" / "drops_edge_blocks.py"
    result = grader.grade(path)
    matmul_cases = [c for c in result.cases if c.task == "matmul"]
    assert matmul_cases and all(c.passed for c in matmul_cases)
    assert "n=100" in next(c.case for c in result.cases if not c.passed)
    message = next(c.message for c in result.cases if not c.passed)
    assert "never run" in message, message


def _frame(order: np.ndarray | None, problem: str = "") -> Frame:
    header = {"type": "case", "case": "c", "status": "returned", "problem": problem}
    return Frame(header, {} if order is None else {"order": order})


def test_the_parent_recounts_misses_so_a_submission_cannot_report_its_own() -> None:
    case = BLOCKING.cases[0]
    reference_order = BLOCKING.reference(case.params)
    result = CACHE_KIND.judge_call(BLOCKING, dict(case.params), 0, _frame(reference_order), 0)
    assert result.passed and result.measures["fraction"] == 1.0
    reference, baseline = known_counts(BLOCKING, dict(case.params))
    assert result.measures["misses"] == reference
    # The unblocked order is complete, so it passes, and scores nothing for misses.
    unblocked = BLOCKING.baseline(case.params)
    result = CACHE_KIND.judge_call(BLOCKING, dict(case.params), 0, _frame(unblocked), 0)
    assert result.passed and result.measures["fraction"] == 0.0
    assert result.measures["misses"] == baseline


def test_an_order_with_a_repeat_fails_with_the_triple_named() -> None:
    case = BLOCKING.cases[0]
    order = BLOCKING.reference(case.params).copy()
    order[5] = order[4]
    result = CACHE_KIND.judge_call(BLOCKING, dict(case.params), 0, _frame(order), 0)
    assert not result.passed and result.reason == "wrong_order"
    assert "more than once" in result.message and "never run" in result.message


def test_the_child_side_reads_at_most_one_row_too_many() -> None:
    import itertools

    order, problem = as_order(((0, 0, 0) for _ in itertools.count()), max_rows=10)
    assert order is not None and len(order) == 11 and not problem
    order, problem = as_order(np.zeros((4, 3), dtype=np.float64), max_rows=10)
    assert order is None and "integers" in problem
    order, problem = as_order(42, max_rows=10)
    assert order is None and "int" in problem


@pytest.mark.parametrize(
    ("mine", "expected"),
    [(100, 1.0), (110, 1.0), (1000, 0.0), (2000, 0.0), (555, 0.5)],
)
def test_miss_fraction_is_linear_between_the_baseline_and_the_reference(
    mine: int, expected: float
) -> None:
    # reference 100 (full at 110 with 1.1 slack), baseline 1000
    assert miss_fraction(mine, {"A": 100}, {"A": 1000}, 1.1) == pytest.approx(expected)
