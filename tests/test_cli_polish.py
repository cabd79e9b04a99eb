"""The rough edges a newcomer hit (issue 14): what the terminal prints says what the report says,
points that cannot count say so everywhere, and the CLI's help, errors and tables read well."""

import html
import importlib.util
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from grader import probe
from grader.check import CaseResult
from grader.cli import _selftest_table, main
from grader.results import NOT_COUNTED, NOT_MEASURED, SCORED
from grader.score import score
from grader.selftest import SelftestRow
from labs import get

ROOT = Path(__file__).parent.parent
LAB = get("lab0")
WRONG = LAB.reference_folder / "wrong"


def _run(tmp_path: Path, submission: Path):
    args = ["run", "lab0", "--mode", "simulator", "--submission", str(submission)]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path)], catch_exceptions=False)
    html = (tmp_path / "lab0.html").read_text()
    data = json.loads((tmp_path / "lab0.json").read_text())
    return result.output, html, data


def test_a_syntax_error_shows_its_caret_in_the_terminal_and_the_report(tmp_path: Path):
    output, page, data = _run(tmp_path, WRONG / "syntax_error.py")
    caret = "\n" + " " * 27 + "^"  # under the missing colon of `def saxpy(a, x, y, out)`
    assert "def saxpy(a, x, y, out)" + caret in output
    message = re.search(r'<pre class="message">(.*?)</pre>', page, re.S)
    assert message, "the failure's message is not preformatted in the report"
    assert "def saxpy(a, x, y, out)" + caret in message.group(1)
    assert data["failure"]["message"] == html.unescape(message.group(1))


def test_a_missing_function_is_named_in_the_terminal_and_the_report(tmp_path: Path):
    output, html, data = _run(tmp_path, WRONG / "missing_function.py")
    assert data["failure"]["reason"] == "missing_function"
    assert "no function named 'saxpy'" in " ".join(output.split())  # however it wraps
    assert "no function named &#39;saxpy&#39;" in html


def test_speed_is_not_counted_before_correctness_in_every_place_it_shows(tmp_path: Path):
    """Report, JSON, terminal and handout say the same: a dash and 'not counted', not 0 / 40."""
    output, html, data = _run(tmp_path, WRONG / "wrong_answer.py")
    speed = next(line for line in data["rubric"] if line["kind"] == "speed")
    assert speed["status"] == NOT_COUNTED and speed["points"] == 0
    assert speed["detail"].startswith("not counted: correctness first")
    assert data["not_counted_points"] == 40 and data["unmeasured_points"] == 0
    assert data["points"] == 0  # the score itself is what it always was
    assert re.search(r"speed\s*│\s*- / 40\s*│\s*not counted: correctness first", output)
    assert "0 / 40" not in output
    assert "&mdash; / 40" in html and "not counted: correctness first" in html
    assert "40 points not counted: correctness first" in html
    handout = (ROOT / "labs/lab0_vecadd/README.md").read_text()
    assert '"not counted: correctness first"' in handout and "`- / 40`" in handout


def test_each_status_comes_from_what_scoring_found():
    passed = [CaseResult("saxpy", f"c{i}", {}, True) for i in range(3)]
    wrong = [*passed[:2], CaseResult("saxpy", "c2", {}, False, "wrong_answer")]
    statuses = {
        "correct, no GPU": score(LAB, passed, [], None, False, "no CUDA device"),
        "wrong, no GPU": score(LAB, wrong, [], None, False, "no CUDA device"),
        "wrong, on a GPU": score(LAB, wrong, [], None, True, "correctness first"),
    }
    speed = {k: next(x for x in v if x.kind == "speed") for k, v in statuses.items()}
    assert speed["correct, no GPU"].status == NOT_MEASURED
    assert not speed["correct, no GPU"].measured  # still counted as not measured
    for key in ("wrong, no GPU", "wrong, on a GPU"):
        assert speed[key].status == NOT_COUNTED and speed[key].measured, key
        assert speed[key].points == 0 and "2 of 3 cases passed" in speed[key].detail
    correctness = next(x for x in statuses["wrong, no GPU"] if x.kind == "correctness")
    assert correctness.status == SCORED and correctness.shown_points == "0"


def test_help_lists_the_commands_one_per_line():
    result = CliRunner().invoke(main, ["--help"], terminal_width=80)
    lines = result.output.splitlines()
    for command in ("list", "run lab0", "grade lab0", "selftest lab0", "doctor", "calibrate"):
        assert any(line.strip().startswith(f"cwb {command}") for line in lines), command
    assert max(len(line) for line in lines) <= 80


def test_calibrate_without_triton_says_what_is_missing(monkeypatch: pytest.MonkeyPatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "triton" else real(name, *a)
    )
    monkeypatch.setattr(probe, "gpu_available", lambda: True)
    result = CliRunner().invoke(main, ["calibrate"])
    assert result.exit_code == 1
    assert "needs" in result.output and "triton" in result.output
    assert "pip install triton" in result.output and "a CUDA GPU" not in result.output
    assert "Traceback" not in result.output and "ModuleNotFoundError" not in result.output


def test_the_selftest_table_keeps_fixture_names_whole_at_80_columns():
    rows = [
        SelftestRow(
            f"wrong/{name}", f"zero {reason}", 0.0, 100.0, reason, True, "a long message " * 9
        )
        for name, reason in [
            ("allocates_all_memory", "out_of_memory"),
            ("cuda_c_compile_error", "kernel_compile"),
            ("consumer_parity_off_by_one", "missing_function"),
        ]
    ]
    rows.append(SelftestRow("wrong/needs_gpu", "zero race", None, 100.0, None, None, "skipped"))
    console = Console(width=80, record=True, color_system=None)
    console.print(_selftest_table(LAB, rows, console.width))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for row in rows:
        assert row.fixture in text, row.fixture
    wide = Console(width=160, record=True, color_system=None)
    wide.print(_selftest_table(LAB, rows, wide.width))
    assert "a long message" in wide.export_text()  # room for the message: shown, cut short


def test_the_report_names_why_points_were_not_measured_on_a_gpu():
    """On a GPU the run has no reason of its own: the unmeasured lines' reasons are shown."""
    from grader.report import render_html
    from grader.results import RubricLine
    from tests.test_report import _result

    result = _result(
        points=60,
        unmeasured_points=40,
        rubric=[
            RubricLine("saxpy", "correctness", 60, 60, True, "7 of 7 cases passed"),
            RubricLine("saxpy", "speed", 0, 40, False, "not measured: needs >= 2 GPUs"),
        ],
    )
    assert "40 points not measured: needs &gt;= 2 GPUs)" in render_html(result)


@pytest.mark.skipif(not probe.no_driver(), reason="this machine has an NVIDIA driver")
@pytest.mark.parametrize("command", ["run", "grade", "selftest"])
def test_gpu_mode_without_a_driver_says_so_and_leaves_the_last_report(
    tmp_path: Path, command: str
) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / "lab0.html").write_text("the last report")
    args = {
        "run": ["run", "lab0", "--out", str(out)],
        "grade": ["grade", "lab0", str(LAB.solution_path), "--out", str(out)],
        "selftest": ["selftest", "lab0", "--out", str(out)],
    }[command]
    result = CliRunner().invoke(main, [*args, "--mode", "gpu"])
    assert result.exit_code == 1, result.output
    assert "--mode gpu needs an NVIDIA GPU" in result.output
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(
        result.exception, SystemExit
    )
    assert (out / "lab0.html").read_text() == "the last report"
