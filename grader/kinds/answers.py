"""The answers kind: short answers and model functions, compared with a reference model.

Child: calls each question's function with every argument set (the handout's public ones and
hidden ones drawn from this grading's seeds) and sends back what it returned, as JSON values.

Parent: imports the reference (which students never see), computes what each call should have
returned, and compares: exactly for bools (a bool must be answered with a bool) and strings
(case and surrounding spaces ignored); numbers as numbers, written as ints or floats either way
(301989888.0 answers 301989888), exactly or within the question's relative tolerance. A
question passes when every argument set is right; the ``answers`` rubric item gives its points
in proportion to the questions that pass.
"""

from __future__ import annotations

import importlib
import inspect
import math
import numbers
from typing import Any

import numpy as np

from grader.channel import Frame
from grader.check import CaseResult, call_result
from grader.kinds.base import ChildHarness, Kind, ScoreContext, Scored
from grader.spec import AnswersTask

MAX_ITEMS = 64  # elements of a list answer
MAX_DEPTH = 2  # a list of dicts of numbers, at most
MAX_TEXT = 200  # characters of a text answer
MAX_SHOWN = 3


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as a JSON value (bool, int, float, str, or short lists and string-keyed
    dicts of those, two levels deep at most); raises TypeError with a sentence when it is
    something else."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if depth < MAX_DEPTH and isinstance(value, list | tuple | np.ndarray):
        items = list(value)
        if len(items) > MAX_ITEMS:
            raise TypeError(f"a list of {len(items)} items is longer than an answer may be")
        return [plain(item, depth + 1) for item in items]
    if depth < MAX_DEPTH and isinstance(value, dict):
        if len(value) > MAX_ITEMS or not all(isinstance(k, str) for k in value):
            raise TypeError("an answer's dict must have at most 64 string keys")
        return {k[:MAX_TEXT]: plain(v, depth + 1) for k, v in value.items()}
    raise TypeError(
        f"returned a {type(value).__name__}; an answer is a bool, a number, a string, or a "
        "short list or dict of those"
    )


def same(got: Any, expected: Any, rtol: float) -> bool:
    """Whether ``got`` (a JSON value from the child) answers ``expected`` (the reference's)."""
    if isinstance(expected, bool | np.bool_):
        return isinstance(got, bool) and got == bool(expected)
    if isinstance(expected, str):
        return isinstance(got, str) and got.strip().lower() == expected.strip().lower()
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and set(got) == set(expected)
            and all(same(got[k], expected[k], rtol) for k in expected)
        )
    if isinstance(expected, list | tuple | np.ndarray):
        expected = list(expected)
        return (
            isinstance(got, list)
            and len(got) == len(expected)
            and all(same(g, e, rtol) for g, e in zip(got, expected, strict=True))
        )
    if isinstance(expected, numbers.Real):  # an int, a float, a numpy number (bools: above)
        return same_number(got, expected, rtol)
    return got == expected


def same_number(got: Any, expected: numbers.Real, rtol: float) -> bool:
    """Whether the number ``got`` answers ``expected``, written as an int or as a float either
    way (JSON has one kind of number; lab 4's ``configs.compare`` agrees): equal, or, with a
    tolerance, within ``rtol`` of it. NaN never passes, and no value raises (an int too large
    for a float is just wrong)."""
    if isinstance(got, bool) or not isinstance(got, int | float):
        return False
    want = int(expected) if isinstance(expected, numbers.Integral) else float(expected)
    if got == want:  # exact, even for ints beyond a float's range
        return True
    if rtol <= 0:
        return False
    try:
        g, w = float(got), float(want)
    except OverflowError:
        return False
    return math.isfinite(g) and abs(g - w) <= rtol * abs(w)


def _call_text(entry: str, args: dict[str, Any]) -> str:
    inside = ", ".join(f"{k}={v!r}" for k, v in args.items())
    return f"{entry}({inside})"


class AnswersKind(Kind):
    name = "answers"
    calls_per_case = 1
    rubric_kinds = ("answers",)
    has_timing = False

    def child_check(self, h: ChildHarness, task: AnswersTask, module, job, state) -> None:
        cases = job["cases"]
        for index, case in enumerate(cases):
            question = task.questions[int(case["params"]["question"])]
            header = {"type": "case", "task": task.name, "case": case["name"], "call": 0}
            fn = getattr(module, question.entry, None)
            if fn is None or not callable(fn):
                error = {
                    "kind": "missing_function",
                    "type": "AttributeError",
                    "message": f"the submission has no function named {question.entry!r}",
                }
                h.send({**header, "status": "error", "error": error})
                continue
            answers = []
            for args in task.arguments(int(case["params"]["question"]), case["seeds"][0]):
                try:
                    inspect.signature(fn).bind(**args)
                except TypeError as exc:
                    wanted = ", ".join(args) or "no arguments"
                    answers.append({"error": f"{question.entry} must take ({wanted}): {exc}"})
                    continue
                except ValueError:
                    pass  # no signature to read: call it anyway
                try:
                    answers.append({"value": plain(fn(**args))})
                except NotImplementedError as exc:
                    h.send({**header, "status": "error", "error": h.failure(exc)})
                    break
                except BaseException as exc:
                    error = h.failure(exc)
                    answers.append({"error": f"{error['type']}: {error['message']}"[:500]})
            else:
                h.send({**header, "status": "returned", "answers": answers})
            h.progress(index + 1, len(cases), f"{task.name} {case['name']}")

    def judge_call(
        self, task: AnswersTask, params: dict[str, Any], seed: int, frame: Frame, call: int
    ) -> CaseResult:
        result = call_result(task.name, params, frame)
        if result.reason:
            return result
        index = int(params["question"])
        question = task.questions[index]
        reference = getattr(importlib.import_module(task.reference), question.entry)
        argument_sets = task.arguments(index, seed)
        answers = frame.header.get("answers")
        if not isinstance(answers, list) or len(answers) != len(argument_sets):
            result.reason = "protocol"
            result.message = "the answers sent back do not match the questions asked"
            return result
        public = len(question.public)
        wrong, shown = 0, []
        for number, (args, answer) in enumerate(zip(argument_sets, answers, strict=True)):
            expected = reference(**args)
            ok = isinstance(answer, dict) and "value" in answer
            ok = ok and same(answer["value"], expected, question.rtol)
            if ok:
                continue
            wrong += 1
            if len(shown) >= MAX_SHOWN:
                continue
            call_text = _call_text(question.entry, args)
            got = answer.get("error") if isinstance(answer, dict) and "error" in answer else None
            got = f"raised {got}" if got else f"returned {answer.get('value')!r}"
            if number < public:
                shown.append(f"{call_text} {got}; the answer is {plain(expected)!r}")
            else:
                shown.append(f"{call_text} (a hidden case) {got}")
        if wrong:
            result.reason = "wrong_answer"
            result.message = f"wrong on {wrong} of {len(argument_sets)} argument sets"
            result.mismatches = shown
            return result
        result.passed = True
        return result

    def score_item(self, ctx: ScoreContext) -> Scored:
        if ctx.item.kind != "answers":
            return super().score_item(ctx)
        if ctx.zeroed:
            return 0.0, True, ctx.zeroed
        if not ctx.cases:
            return 0.0, True, "0: no question was asked"
        right = sum(c.passed for c in ctx.cases)
        points = round(ctx.item.points * right / len(ctx.cases), 2)
        wrong = [c.case for c in ctx.cases if not c.passed]
        detail = f"{right} of {len(ctx.cases)} questions right"
        if wrong:
            detail += " (not yet: " + ", ".join(wrong) + ")"
        return points, True, detail

    def how_checked(self, task: AnswersTask) -> str:
        return (
            "Each question's function is called with the arguments the handout shows and with "
            "hidden ones drawn for this grading; the grader compares every answer with its "
            "reference model in its own process (exactly, or within a relative tolerance for "
            "real numbers)."
        )


KIND = AnswersKind()
