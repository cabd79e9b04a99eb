"""docs/adding-a-lab.md's example, graded: a lab of an existing kind added from outside the
repository with one registry entry (``CWB_LABS``), and nothing else."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import labs
from grader.runner import Grader, Options
from grader.selftest import run_selftest

COURSE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "scale_course"


@pytest.fixture()
def example(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CWB_LABS", "lab9=scale_lab.lab")
    path = os.pathsep.join([str(COURSE), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)  # the grading processes import it too
    monkeypatch.syspath_prepend(str(COURSE))
    yield labs.get("lab9")
    sys.modules.pop("scale_lab.lab", None)


def test_the_example_is_registered_beside_the_workbench_labs(example) -> None:
    assert "lab9" in labs.names() and labs.names()[: len(labs.LABS)] == list(labs.LABS)
    assert example.folder == COURSE / "scale_lab"
    assert example.student_path.is_file() and example.solution_path.is_file()


def test_selftest_grades_the_example_as_its_fixtures_say(example) -> None:
    rows = run_selftest(Grader(example, Options(mode="simulator", timeout_s=60)))
    assert [(row.fixture, row.ok) for row in rows] == [
        ("reference/solution", True),
        ("wrong/forgets_guard", True),
    ]
    assert rows[0].points == 100 and rows[1].reason == "out_of_bounds"


def test_the_example_stub_scores_zero_with_its_own_path_in_the_hint(example) -> None:
    result = Grader(example, Options(mode="simulator", timeout_s=60)).grade(example.student_path)
    assert result.points == 0 and result.failure.reason == "not_implemented"
    assert "scale_lab/student.py" in result.next_steps[0]


def test_a_malformed_registry_entry_is_refused_with_its_text(monkeypatch) -> None:
    monkeypatch.setenv("CWB_LABS", "lab9")
    with pytest.raises(ValueError, match="name=module"):
        labs.names()
