"""Every lab's fixtures graded without a GPU: numba kernels under the simulator, everything
else as it runs anywhere. The reference gets every point it can get without a GPU, each
known-wrong fixture scores as its header says, and the grader carries on after each one.

One test for every lab in the registry (``labs.names()``): a new lab's fixtures are tested here
the moment its registry line exists.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

import labs
from grader.runner import Grader, Options
from grader.selftest import fixtures, judge, read_expectation

HANG_TIMEOUT_S = 8.0  # a fixture that must time out costs this much, not the lab's full limit


@functools.cache
def _grader(lab_name: str, timeout_s: float | None) -> Grader:
    return Grader(labs.get(lab_name), Options(mode="simulator", timeout_s=timeout_s))


def _all_fixtures() -> list[tuple[str, Path]]:
    return [
        (name, path)
        for name in labs.names()
        for path in fixtures(Grader(labs.get(name), Options(mode="simulator")))
    ]


@pytest.mark.parametrize(
    ("lab_name", "path"),
    _all_fixtures(),
    ids=lambda value: value.parent.name + "/" + value.stem if isinstance(value, Path) else value,
)
def test_fixture_is_graded_as_its_header_says(lab_name: str, path: Path) -> None:
    expectation = read_expectation(path)
    if expectation.needs_gpu:
        pytest.skip("this fixture needs a GPU: its fault only shows on real hardware")
    timeout = HANG_TIMEOUT_S if "timeout" in expectation.reasons else None
    result = _grader(lab_name, timeout).grade(path, student=path.stem)
    ok, message = judge(result, expectation)
    assert ok, f"{message}\n{result.failure}"
    if expectation.outcome == "zero" and not expectation.task:
        assert result.failure.message, "a zero must come with an explanation"
        assert result.failure.hint, "and with something to do about it"


@pytest.mark.parametrize("lab_name", labs.names())
def test_the_untouched_stub_scores_zero_and_says_what_to_fill_in(lab_name: str) -> None:
    lab = labs.get(lab_name)
    result = _grader(lab_name, None).grade(lab.student_path, student="you")
    assert result.points == 0 and result.failure.reason == "not_implemented"
    assert f"labs/{lab.slug}/student.py" in result.next_steps[0]
    assert "FILL ME IN" in result.next_steps[0]
    assert any("not measured" in step.lower() for step in result.next_steps)
