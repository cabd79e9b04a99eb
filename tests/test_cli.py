import csv
import json
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from grader.cli import main
from labs import get

LAB = get("lab0")


def _invoke(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_list_shows_every_lab():
    result = _invoke("list")
    assert result.exit_code == 0 and "lab0" in result.output


def test_run_on_the_stub_writes_a_report_that_says_what_to_do(tmp_path: Path):
    result = _invoke("run", "lab0", "--mode", "simulator", "--out", str(tmp_path))
    assert result.exit_code == 0
    assert "0 / 100" in result.output and "Not implemented yet" in result.output
    html = (tmp_path / "lab0.html").read_text()
    assert "FILL ME IN" in html and "Not measured" in html
    data = json.loads((tmp_path / "lab0.json").read_text())
    assert data["points"] == 0 and data["failure"]["reason"] == "not_implemented"
    # The time of each phase, in the JSON, the report and the terminal.
    # Speed waits for correctness: the simulator's note does not promise speed points now.
    assert any("Once every task is correct here" in step for step in data["next_steps"])
    spent = data["phase_seconds"]["checking correctness"]
    assert 0 < spent <= data["seconds"]
    assert "Where the" in html and "checking correctness" in html
    assert "checking correctness" in result.output and " s in all" in result.output


def test_an_unknown_lab_is_a_usage_error():
    result = CliRunner().invoke(main, ["run", "lab99"])
    assert result.exit_code == 2 and "no lab called 'lab99'" in result.output


def test_grade_a_class_writes_a_gradebook_and_gradescope_results(tmp_path: Path):
    alice = tmp_path / "subs" / "alice"
    alice.mkdir(parents=True)
    (alice / "student.py").write_text(LAB.solution_path.read_text())
    bob = LAB.reference_folder / "wrong" / "wrong_answer.py"
    out = tmp_path / "grades"
    result = _invoke(
        "grade",
        "lab0",
        str(alice),
        str(bob),
        "--mode",
        "simulator",
        "--out",
        str(out),
        "--secret",
        "course-secret",
    )
    assert result.exit_code == 0
    with open(out / "gradebook.csv") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    assert float(rows["alice"]["points"]) == 60 and float(rows["alice"]["not_measured"]) == 40
    assert float(rows["wrong_answer"]["points"]) == 0
    assert rows["wrong_answer"]["failure"] == "wrong_answer"
    gradescope = json.loads((out / "alice" / "results.json").read_text())
    assert gradescope["score"] == 60 and gradescope["max_score"] == 100
    assert [t["name"] for t in gradescope["tests"]] == [
        "saxpy: correctness",
        "saxpy: speed (not measured)",
    ]
    assert (out / "wrong_answer" / "lab0.html").is_file()
    schema = json.loads(
        (Path(__file__).parent.parent / "docs/gradescope-results.schema.json").read_text()
    )
    for written in out.glob("*/results.json"):  # Gradescope's documented format
        jsonschema.validate(json.loads(written.read_text()), schema)


def test_selftest_passes_on_a_subset_and_writes_reports(tmp_path: Path):
    result = _invoke(
        "selftest", "lab0", "--mode", "simulator", "--only", "wrong_answer", "--out", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    assert "every fixture was graded as expected" in result.output
    assert (tmp_path / "lab0" / "wrong__wrong_answer.html").is_file()


def test_doctor_says_what_works_here():
    result = _invoke("doctor")
    assert result.exit_code == 0
    assert "What will work" in result.output and "NVRTC" in result.output


def test_markup_and_broken_unicode_in_an_exception_are_shown_not_obeyed(tmp_path: Path):
    hostile = tmp_path / "hostile" / "student.py"
    hostile.parent.mkdir()
    hostile.write_text(
        "def saxpy(a, x, y, out):\n"
        "    raise ValueError('\\ud800 [bold red]you got 100[/bold red] [link=file:///etc]x[/link]')\n"
    )
    out = tmp_path / "report"
    result = _invoke(
        "run", "lab0", "--submission", str(hostile), "--mode", "simulator", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "[bold red]you got 100[/bold red]" in result.output  # shown as text
    html = (out / "lab0.html").read_text(encoding="utf-8")
    assert "you got 100" in html and "<bold" not in html
    assert json.loads((out / "lab0.json").read_text())["points"] == 0
