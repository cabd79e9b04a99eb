"""Gradescope's results.json: valid against its documented format, and honest about what was
and was not measured (docs/gradescope-results.schema.json)."""

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.gradescope import gradescope
from grader.results import NOT_COUNTED, NOT_MEASURED, Failure, RubricLine
from labs import get
from tests.test_report import _matmul_result, _result

SCHEMA_PATH = Path(__file__).parent.parent / "docs" / "gradescope-results.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
LAB = get("lab0")


def valid(results: dict) -> dict:
    """``results`` after checking it against the schema (and that it is plain JSON)."""
    jsonschema.validate(json.loads(json.dumps(results, allow_nan=False)), SCHEMA)
    return results


def test_the_schema_is_a_schema_and_refuses_what_gradescope_would():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    valid({"score": 1, "tests": [{"name": "t", "status": "passed"}]})
    valid({"tests": [{"score": 1, "max_score": 2}]})  # a score on every test, none on top
    for wrong in (
        {"tests": [{"name": "t"}]},  # no score anywhere
        {"score": 1, "tests": [{"status": "skipped"}]},
        {"score": 1, "visibility": "students"},
        {"score": 1, "leaderboard": [{"name": "x", "value": 1, "order": "up"}]},
        {"score": 1, "output_format": "rst"},
        {"score": 1, "tests": [{"score": 1, "number": 1}]},  # numbers are strings: "1.1"
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, SCHEMA)


def test_a_timed_run_puts_its_speed_on_the_leaderboard():
    result = _result()
    out = valid(gradescope(result))
    assert out["score"] == 97.5 and out["execution_time"] == 13  # 12.5 s, rounded up
    assert [t["status"] for t in out["tests"]] == ["passed", "failed"]  # 37.5 of 40
    speedup = result.benches[0].speedup
    assert out["leaderboard"] == [
        {"name": "saxpy: speed-up over the reference", "value": round(speedup, 4), "order": "desc"}
    ]
    assert out["stdout_visibility"] == "hidden" and out["visibility"] == "visible"


def test_a_kernel_rated_against_a_library_ranks_by_its_share_of_it():
    result = _matmul_result()
    result.rubric = [
        RubricLine("matmul", "correctness", 35, 35, True, "8 of 8 cases passed"),
        RubricLine("matmul", "speed", 30, 30, True, "15.3% of cuBLAS's speed"),
    ]
    out = valid(gradescope(result))
    assert out["leaderboard"][0]["name"] == "matmul: % of cuBLAS"
    assert out["leaderboard"][0]["value"] == pytest.approx(100 * 2.69 / 17.6, abs=1e-3)


def test_a_flagged_timing_is_kept_off_the_leaderboard():
    result = _result()
    result.benches[0].flags = ["faster than bytes over the measured bandwidth"]
    assert "leaderboard" not in valid(gradescope(result))


def test_not_measured_is_neither_a_pass_nor_a_failed_zero():
    result = _result(
        mode="simulator",
        benches=[],
        points=60,
        unmeasured_points=40,
        rubric=[
            RubricLine("saxpy", "correctness", 60, 60, True, "7 of 7 cases passed"),
            RubricLine("saxpy", "speed", 0, 40, False, "not measured: no CUDA device"),
        ],
    )
    out = valid(gradescope(result))
    speed = out["tests"][1]
    assert speed["name"] == "saxpy: speed (not measured)"
    assert speed["status"] == "passed" and speed["score"] == 0 and speed["max_score"] == 40
    assert speed["output"].startswith("not measured") and speed["extra_data"]["status"] == (
        NOT_MEASURED
    )
    assert out["extra_data"]["not_measured_points"] == 40 and "leaderboard" not in out


def test_not_counted_fails_with_its_reason_and_the_failure_has_a_test_of_its_own():
    failure = Failure(
        "syntax_error",
        "Python could not read the file",
        "expected ':' at line 3\n    def saxpy(a, x, y, out)\n                           ^",
        "Fix the syntax error on the line shown, then re-run.",
    )
    result = _result(
        failure=failure,
        points=0,
        benches=[],
        rubric=[
            RubricLine("saxpy", "correctness", 0, 60, True, "0 of 7 cases passed"),
            RubricLine("saxpy", "speed", 0, 40, True, "not counted: correctness", NOT_COUNTED),
        ],
    )
    out = valid(gradescope(result))
    speed, why = out["tests"][1], out["tests"][2]
    assert speed["name"] == "saxpy: speed (not counted: correctness first)"
    assert speed["status"] == "failed" and speed["extra_data"]["status"] == NOT_COUNTED
    assert why["name"] == "why: Python could not read the file" and "score" not in why
    assert why["output_format"] == "text" and "\n" + " " * 27 + "^" in why["output"]
    assert out["output_format"] == "text"  # the submission's text is never rendered as HTML
    assert out["extra_data"]["not_counted_points"] == 40


def test_every_results_json_a_class_grading_writes_is_valid(tmp_path: Path):
    wrong = LAB.reference_folder / "wrong"
    submissions = [
        LAB.solution_path,
        wrong / "wrong_answer.py",
        wrong / "syntax_error.py",
        wrong / "missing_function.py",
        wrong / "raises.py",
    ]
    out = tmp_path / "grades"
    args = ["grade", "lab0", *map(str, submissions), "--mode", "simulator", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--secret", "s"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    written = sorted(out.glob("*/results.json"))
    assert len(written) == len(submissions)
    by_name = {p.parent.name: valid(json.loads(p.read_text())) for p in written}
    assert by_name["solution"]["tests"][1]["name"] == "saxpy: speed (not measured)"
    missing = by_name["missing_function"]
    assert "no function named 'saxpy'" in missing["tests"][-1]["output"]
    assert missing["tests"][1]["status"] == "failed"  # not counted: correctness first


def test_the_recorded_gpu_runs_give_valid_results_with_their_speed_on_the_leaderboard():
    """The H200 runs in docs/gpu-runs, read back and written as Gradescope would get them."""
    from grader.results import RunResult

    runs = sorted((SCHEMA_PATH.parent / "gpu-runs").glob("*/*.json"))
    boards = {}
    for path in runs:
        data = json.loads(path.read_text())
        if "rubric" in data:
            out = valid(gradescope(RunResult.from_dict(data)))
            boards[data["lab"]] = [entry["name"] for entry in out.get("leaderboard", [])]
    assert boards["lab0"] == ["saxpy: speed-up over the reference"]
    assert boards["lab2"] == ["matmul: % of cuBLAS"]
    assert boards["lab1"] == ["pipeline: speed-up over its baseline"]
