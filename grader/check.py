"""Correctness, in the parent: comparing outputs with expected values, and a case's result.

Each kind checks in the order a student would want (did it run; is the result the right kind of
object; dtype; shape; did it write outside its output; did it change its inputs), then compares
values here: NaN never passes, and the first few mismatches are shown by index.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.channel import Frame
from grader.devices import is_poison
from grader.spec import Tolerance

MAX_SHOWN = 5


@dataclass
class Comparison:
    ok: bool
    reason: str | None = None
    message: str = ""
    mismatches: list[str] = field(default_factory=list)
    bad: int = 0
    worst_error_over_tolerance: float = 0.0


def _fmt(value: float) -> str:
    return f"{value:.7g}"


def compare(got: np.ndarray, expected: np.ndarray, scale: np.ndarray, tol: Tolerance) -> Comparison:
    """Element-wise ``|got - expected| <= atol + rtol * scale``; NaN and inf never pass."""
    got64 = got.astype(np.float64)
    bound = tol.atol + tol.rtol * scale
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(got64 - expected)
        exact = got64 == expected  # inf passes only where the same inf is expected
        ok = (err <= bound) | exact  # err <= bound is False wherever err is NaN
    ok &= np.isfinite(got64) | exact
    if ok.all():
        worst = float(np.max(err / bound)) if err.size else 0.0
        return Comparison(ok=True, worst_error_over_tolerance=worst)
    bad_index = np.argwhere(~ok)
    bad = len(bad_index)
    shown = []
    for index in bad_index[:MAX_SHOWN]:
        idx = tuple(int(i) for i in index)
        where = f"({idx[0]},)" if len(idx) == 1 else str(idx)
        shown.append(
            f"at {where}: got {_fmt(got64[idx])}, expected {_fmt(expected[idx])} "
            f"(tolerance {bound[idx]:.2g})"
        )
    poisoned = is_poison(got)
    if poisoned.all():
        reason = "unwritten"
        message = (
            f"none of the {got.size} output elements was written: they still hold the NaN "
            "the grader filled the output with"
        )
    elif (~np.isfinite(got64) & ~ok).any():
        reason = "nan"
        unwritten = int(poisoned.sum())
        message = f"{int((~np.isfinite(got64)).sum())} of {got.size} elements are NaN or inf"
        if unwritten:
            first = int(np.argwhere(poisoned.ravel())[0][0])
            message += f" (the first at flat index {first}: an element your kernel never wrote?)"
    else:
        reason = "wrong_answer"
        message = f"{bad} of {got.size} elements are wrong"
    with np.errstate(invalid="ignore", divide="ignore"):
        over = np.nan_to_num(err / bound, nan=np.inf)  # a NaN element is infinitely wrong
        worst = float(np.max(np.where(ok, 0.0, over))) if err.size else 0.0
    return Comparison(
        ok=False,
        reason=reason,
        message=message,
        mismatches=shown,
        bad=bad,
        worst_error_over_tolerance=worst,
    )


@dataclass
class CaseResult:
    task: str
    case: str
    params: dict[str, Any]
    passed: bool
    reason: str | None = None
    message: str = ""
    mismatches: list[str] = field(default_factory=list)
    worst_error_over_tolerance: float | None = None
    elapsed_s: float | None = None
    traceback: str = ""
    measures: dict[str, Any] | None = None  # what a passing case measured (cache misses)
    stopped_by: str | None = None  # not run: the reason code of the failure that stopped it

    @property
    def status(self) -> str:
        if self.passed:
            return "pass"
        return "not run" if self.reason == "not_run" else "fail"


# What the child may say a call failed for: the reasons its harness classifies an exception as
# (grader.errors) or finds itself. Anything else it claims is read as a plain exception.
CHILD_REASONS = frozenset(
    {
        "exception",
        "not_implemented",
        "exited",
        "out_of_bounds",
        "out_of_memory",
        "not_ready",
        "cuda_error",
        "kernel_compile",
        "import_error",
        "missing_function",
        "signature",
        "type",
    }
)


def _text(value: Any, limit: int = 4000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _seconds(value: Any) -> float | None:
    """A duration the child reported, or None for what is not one (a bool, an int too large
    for a float, infinity, NaN, a negative time)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def call_result(task_name: str, params: dict[str, Any], frame: Frame) -> CaseResult:
    """A failing result for one call; filled in from the child's error if the call raised.

    Every field is read defensively: the frame comes from the submission's process."""
    header = frame.header
    result = CaseResult(
        task=task_name,
        case=_text(header.get("case"), 200) or "?",
        params=dict(params),
        passed=False,
        elapsed_s=_seconds(header.get("elapsed_s")),
    )
    if header.get("status") == "error":
        error = header.get("error") if isinstance(header.get("error"), dict) else {}
        kind = error.get("kind")
        result.reason = kind if kind in CHILD_REASONS else "exception"
        result.message = (
            f"{_text(error.get('type'), 200) or 'error'}: {_text(error.get('message'))}"
        )
        result.traceback = _text(error.get("traceback"))
    elif header.get("status") != "returned":
        result.reason = "protocol"
        result.message = "the submission's process sent a result the grader cannot read"
    return result
