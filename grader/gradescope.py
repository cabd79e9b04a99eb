"""Gradescope's ``results.json`` for one graded submission (the format's schema, as this
project uses it, is written down in docs/gradescope-results.schema.json)."""

from __future__ import annotations

import math

from grader.results import RunResult

_SUFFIX = {"not measured": " (not measured)", "not counted": " (not counted: correctness first)"}


def gradescope(result: RunResult) -> dict:
    """Gradescope's results.json for one student (docs/gradescope-results.schema.json).

    Gradescope shows a test as passed or failed by its ``status`` (or, without one, by whether
    it got its max_score); the status changes how it looks, never the score. So an item that
    was *not measured* (no GPU, or the reference run failed) keeps its 0 of max_score, which is
    true of the grade, but shows as passed and names itself "not measured": nothing in the
    student's code failed it, and a red cross would say otherwise. An item *not counted* because
    its task is not yet correct shows as failed: the student has something to fix, and its name
    and output say what (correctness first). A failure's message and traceback go in a test of
    their own, without points, because a test's output is shown as preformatted text (a syntax
    error's caret stays under its column) and the top-level output is not. Every text is plain
    text: nothing the submission printed is rendered as HTML.
    """
    tests = []
    for number, line in enumerate(result.rubric, 1):
        passed = {"scored": line.points >= line.max_points, "not measured": True}
        tests.append(
            {
                "name": f"{line.task}: {line.kind}" + _SUFFIX.get(line.status, ""),
                "number": str(number),
                "score": line.points,
                "max_score": line.max_points,
                "status": "passed" if passed.get(line.status, False) else "failed",
                "output": line.detail,
                "output_format": "text",
                "tags": [line.task, line.kind],
                "visibility": "visible",
                "extra_data": {"status": line.status, "measured": line.measured},
            }
        )
    output = [result.headline, *result.next_steps]
    output += [f"flagged for review: {flag}" for flag in result.flags]
    if result.failure:
        details = [result.failure.message, result.failure.diagnostics, result.failure.traceback]
        failing = [c for c in result.cases if not c.passed and c.reason != "not_run"]
        if failing and failing[0].mismatches:
            details.append("\n".join([f"{failing[0].case}:", *failing[0].mismatches]))
        tests.append(
            {
                "name": f"why: {result.failure.title}",
                "number": str(len(tests) + 1),
                "status": "failed",
                "output": "\n\n".join(d.rstrip() for d in details if d.strip()),
                "output_format": "text",
                "visibility": "visible",
                "extra_data": {"reason": result.failure.reason},
            }
        )
    results = {
        "score": result.points,
        "max_score": result.max_points,
        "execution_time": max(1, math.ceil(result.seconds)),
        "output": "\n".join(output),
        "output_format": "text",
        "visibility": "visible",  # students see their result as soon as it is graded
        "stdout_visibility": "hidden",  # the grader's own log is for the instructor
        "extra_data": {
            "lab": result.lab,
            "mode": result.mode,
            "graded": result.graded,
            "not_measured_points": result.unmeasured_points,
            "not_counted_points": result.not_counted_points,
            "failure": result.failure.reason if result.failure else None,
            "flags": result.flags,
            "sandboxed": bool(result.limits.get("sandboxed", False)),
        },
        "tests": tests,
    }
    leaderboard = [{"name": n, "value": v, "order": "desc"} for n, v in result.speed_figures()]
    if leaderboard:  # the lab's speed figure, where it was measured and counted
        results["leaderboard"] = leaderboard
    return results
