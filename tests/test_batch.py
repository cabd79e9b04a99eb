"""Grading a class: however the batch runs (one grader, several local graders, submitit's
executor), the gradebook is the same; a batch resumes; its secret stays with the instructor."""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from grader import batch
from grader.cli import _devices, main
from grader.gradescope import gradescope
from grader.runner import Grader
from labs import get

LAB = get("lab0")
WRONG = LAB.reference_folder / "wrong"


def _class(tmp_path: Path) -> list[batch.Assignment]:
    alice = tmp_path / "subs" / "alice"
    alice.mkdir(parents=True)
    (alice / "student.py").write_text(LAB.solution_path.read_text())
    return [
        batch.Assignment(str(alice / "student.py"), "alice"),
        batch.Assignment(str(WRONG / "wrong_answer.py"), "wrong_answer"),
        batch.Assignment(str(WRONG / "raises.py"), "raises"),
    ]


def _settings(out: Path) -> batch.Settings:
    return batch.Settings(
        lab="lab0", out=str(out), secret="s3cret-batch", samples=5, mode="simulator",
        sandbox="auto",
    )  # fmt: skip


def _book(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_one_grader_several_graders_and_submitit_agree(tmp_path: Path) -> None:
    assignments = _class(tmp_path)
    names = [a.student for a in assignments]
    books = []
    for way in ("chunk", "threads", "submitit"):
        settings = _settings(tmp_path / way)
        plan = batch.plan(settings, assignments, regrade=False)
        if way == "chunk":
            batch.grade_chunk(settings, plan.assignments, gradescope)
        elif way == "threads":
            batch.run_local(plan, [None, None], gradescope)
        else:
            pytest.importorskip("submitit")
            batch.run_submitit(plan, 2, "local", {"timeout_min": 10}, gradescope)
        books.append(_book(batch.gradebook(settings, names)))
    assert books[0] == books[1] == books[2]
    rows = {r["student"]: r for r in books[0]}
    assert [r["student"] for r in books[0]] == sorted(names)
    assert float(rows["alice"]["points"]) == 60
    assert rows["wrong_answer"]["failure"] == "wrong_answer"
    assert float(rows["raises"]["points"]) == 0 and rows["raises"]["failure"] != "infrastructure"


def test_a_grader_failure_on_one_submission_is_recorded_and_the_batch_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assignments = _class(tmp_path)
    real = Grader.grade

    def flaky(self, submission, **kwargs):
        if "wrong_answer" in str(submission):
            raise OSError("disk full")
        return real(self, submission, **kwargs)

    monkeypatch.setattr(Grader, "grade", flaky)
    settings = _settings(tmp_path / "out")
    rows = batch.run_local(batch.plan(settings, assignments, False), [None], gradescope)
    by_name = {r["student"]: r for r in rows}
    assert by_name["wrong_answer"]["failure"] == "infrastructure"
    assert "disk full" in by_name["wrong_answer"]["flags"]
    assert by_name["alice"]["points"] == 60


def _grade(out: Path, *args: str) -> str:
    alice = out.parent / "subs" / "alice"
    if not alice.exists():
        alice.mkdir(parents=True)
        (alice / "student.py").write_text(LAB.solution_path.read_text())
    result = CliRunner().invoke(
        main,
        ["grade", "lab0", str(alice), str(WRONG / "wrong_answer.py"), "--mode", "simulator",
         "--samples", "5", "--out", str(out), *args],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.output


def test_a_batch_resumes_keeps_its_secret_and_regrades_when_asked(tmp_path: Path) -> None:
    out = tmp_path / "grades"
    first = _grade(out)
    assert "[2/2]" in first
    stored = json.loads((out / "batch.json").read_text())
    assert stat.S_IMODE((out / "batch.json").stat().st_mode) == 0o600
    secret = stored["secret"]
    assert len(secret) >= 32
    # The secret never reaches what students see.
    for path in out.rglob("*"):
        if path.is_file() and path.name != "batch.json":
            assert secret not in path.read_text(errors="replace"), path
    row = out / "alice" / "row.json"
    before = row.stat().st_mtime_ns
    book = (out / "gradebook.csv").read_text()

    again = _grade(out)
    assert "2 already graded" in again and "[1/" not in again
    assert row.stat().st_mtime_ns == before and (out / "gradebook.csv").read_text() == book

    regraded = _grade(out, "--regrade")
    assert "[2/2]" in regraded and row.stat().st_mtime_ns != before
    assert json.loads((out / "batch.json").read_text())["secret"] == secret
    assert (out / "gradebook.csv").read_text() == book  # same secret, same seeds, same grades


def test_each_local_grader_gets_its_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import grader.cli as cli

    settings = batch.Settings(lab="lab0", out="/tmp/x", secret="s", mode="gpu")
    monkeypatch.setattr(cli, "gpu_count", lambda: 4)
    assert _devices("all", None, settings) == [0, 1, 2, 3]
    assert _devices("2", None, settings) == [0, 1]
    assert _devices("1,3", None, settings) == [1, 3]
    assert _devices("1,3", 4, settings) == [1, 3, 1, 3]  # two graders per GPU
    with pytest.raises(click.BadParameter, match=r"GPUs 0\.\.3"):
        _devices("0,5", None, settings)
    off = batch.Settings(lab="lab0", out="/tmp/x", secret="s", mode="gpu", sandbox="off")
    assert _devices("all", None, off) == [0]  # without a sandbox, one grader at a time
    assert batch.options(settings, 3).extra_env == {"CUDA_VISIBLE_DEVICES": "3"}
    monkeypatch.setattr(cli, "gpu_count", lambda: 0)
    assert _devices("all", 3, settings) == [None, None, None]


def test_names_stay_inside_out_and_cells_stay_text(tmp_path: Path) -> None:
    """File names become folder names and gradebook cells: none escapes OUT, takes the
    batch's own files, or is run by a spreadsheet as a formula."""
    subs = tmp_path / "subs"
    subs.mkdir()
    names = ["...", "batch.json", "gradebook.csv", '=HYPERLINK("evil","y")', "+cmd", "a b\nc"]
    for name in names:
        (subs / f"{name}.py").write_text(LAB.solution_path.read_text())
    out = tmp_path / "grades"
    result = CliRunner().invoke(
        main,
        ["grade", "lab0", *(str(subs / f"{n}.py") for n in names), "--mode", "simulator",
         "--samples", "5", "--out", str(out)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((out / "batch.json").read_text())["secret"]  # still the batch's file
    assert not (tmp_path / "row.json").exists() and not (tmp_path / "lab0.html").exists()
    rows = _book(out / "gradebook.csv")
    assert len(rows) == len(names)
    for row in rows:
        assert not row["student"].startswith(("=", "+", "-", "@")), row["student"]
        assert float(row["points"]) == 60, row
        folder = out / row["student"]
        assert folder.parent == out and (folder / "row.json").is_file()
