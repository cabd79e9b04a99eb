import math

import pytest

from grader.check import CaseResult
from grader.kinds.kernel import geometric_mean
from grader.kinds.timed import FLOOR_FLAG
from grader.results import BenchResult, Failure
from grader.score import score
from grader.spec import SpeedRule
from labs import get

LAB = get("lab0")


def _cases(passed=True):
    return [CaseResult("saxpy", f"c{i}", {}, passed) for i in range(3)]


def _benches(*speedups, flags=()):
    return [
        BenchResult("saxpy", f"b{i}", {}, "timed", speedup=s, flags=list(flags))
        for i, s in enumerate(speedups)
    ]


def test_speed_rule_is_linear_between_its_thresholds_and_clamped():
    rule = SpeedRule(zero_at=0.25, full_at=0.9)
    assert rule.fraction(0.1) == 0 and rule.fraction(2.0) == 1
    assert rule.fraction(0.575) == pytest.approx(0.5)
    assert rule.fraction(math.nan) == 0


def test_geometric_mean():
    assert geometric_mean([1.0, 4.0]) == pytest.approx(2.0)
    assert math.isnan(geometric_mean([1.0, 0.0]))


def test_a_correct_kernel_as_fast_as_the_reference_gets_everything():
    lines = score(LAB, _cases(), _benches(1.0, 1.02, 0.98), None, True)
    assert sum(line.points for line in lines) == LAB.max_points


def test_a_slower_kernel_gets_part_of_the_speed_points():
    lines = score(LAB, _cases(), _benches(0.5, 0.5, 0.5), None, True)
    speed = next(line for line in lines if line.kind == "speed")
    assert speed.points == pytest.approx(40 * (0.5 - 0.25) / 0.65, abs=0.01)


def test_one_wrong_case_loses_correctness_and_speed():
    cases = _cases()
    cases[1] = CaseResult("saxpy", "c1", {}, False, "wrong_answer")
    assert sum(line.points for line in score(LAB, cases, _benches(1.0), None, True)) == 0


def test_without_a_device_speed_is_not_measured_rather_than_zero():
    lines = score(LAB, _cases(), [], None, False, "no CUDA device")
    speed = next(line for line in lines if line.kind == "speed")
    assert not speed.measured and "no CUDA device" in speed.detail


def test_faster_than_the_floor_is_withheld_and_cheating_zeroes_everything():
    lines = score(LAB, _cases(), _benches(30.0, flags=[FLOOR_FLAG + ": 1 us"]), None, True)
    assert next(line for line in lines if line.kind == "speed").points == 0
    cheat = Failure("tampered", "Replaced the grader's timing functions", "")
    assert sum(line.points for line in score(LAB, _cases(), _benches(1.0), cheat, True)) == 0
