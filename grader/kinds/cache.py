"""The cache kind: a loop order scored by a CPU cache simulator (lab 2, part A); no GPU.

Child: calls the student's function once per case and sends the order back; nothing is judged
there (the submission shares that process, so it could replace the simulator).

Parent: checks the order visits every (i, j, k) exactly once, then counts its misses on the
case's cache, next to the reference blocking's and the unblocked order's on the same cache;
the ``misses`` rubric item scores where the student's total falls between the two.
"""

from __future__ import annotations

import itertools
import time
from typing import Any, ClassVar

import numpy as np

from grader import devices
from grader.channel import Frame
from grader.charts import LIBRARY, REFERENCE, STUDENT, Bar, bar_chart
from grader.check import CaseResult, call_result
from grader.kinds.base import ChildHarness, Kind, ScoreContext, Scored
from grader.spec import CacheTask
from grader.verdicts import Reason

MAX_SHOWN = 3

_KNOWN: dict[tuple, tuple[dict[str, int], dict[str, int]]] = {}


def as_order(result: Any, max_rows: int) -> tuple[np.ndarray | None, str]:
    """(order as int64 (T, 3), "") or (None, why not): from an array or an iterable of triples.

    At most ``max_rows + 1`` rows are read from an iterable, so an endless generator cannot
    hang the grader or fill its memory; one row too many is enough to say "too many".
    """
    if isinstance(result, np.ndarray):
        if result.dtype.kind not in "iu":
            return None, f"the order's dtype is {result.dtype}; it must be integers (i, j, k)"
        if result.size > 3 * (max_rows + 1):
            return None, f"the order has {result.size // 3} rows; a full pass has {max_rows}"
        return np.array(result, dtype=np.int64), ""  # a plain copy, whatever the subclass
    if isinstance(result, str | bytes) or not hasattr(result, "__iter__"):
        kind = type(result).__name__
        return None, f"returned a {kind}; return a numpy array of shape (n**3, 3) or triples"
    rows = list(itertools.islice(iter(result), max_rows + 1))
    try:
        order = np.array(rows, dtype=np.int64)
    except (TypeError, ValueError, OverflowError) as exc:
        return None, f"the rows could not be read as integer triples (i, j, k): {exc}"
    return order, ""


def known_counts(task: CacheTask, params: dict[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """Misses of the reference and of the unblocked order for one case (the same for everyone,
    so a class's grading counts them once). Case parameters are flat scalars."""
    key = (task.name, tuple(sorted(params.items())))
    if key not in _KNOWN:
        _KNOWN[key] = (
            task.count(task.reference(params), params),
            task.count(task.baseline(params), params),
        )
    return _KNOWN[key]


def miss_fraction(
    mine: int, reference: dict[str, int], baseline: dict[str, int], slack: float
) -> float:
    """0 at the unblocked order's misses (or more), 1 at ``slack`` x the reference's (or fewer)."""
    full = slack * sum(reference.values())
    zero = float(sum(baseline.values()))
    if mine <= full:
        return 1.0
    if mine >= zero or zero <= full:
        return 0.0
    return (zero - mine) / (zero - full)


class CacheKind(Kind):
    name = "cache"
    calls_per_case = 1  # plain deterministic Python: one call says it all
    rubric_kinds = ("misses",)
    has_timing = False
    charts_in = "check"
    reasons: ClassVar[dict[str, Reason]] = {
        "wrong_order": Reason(
            "The loop order does not visit every iteration exactly once",
            "Return every (i, j, k) with 0 <= i, j, k < n exactly once, as an integer array of "
            "shape (n**3, 3) (or a list of triples): the message says which triples are "
            "missing, repeated or out of range. Check the partial blocks at the edges when n "
            "is not a multiple of the block.",
        ),
    }

    def child_check(self, h: ChildHarness, task: CacheTask, module, job, state) -> None:
        fn = h.entry_point(module, task, task.entry, list(task.arg_names))
        if fn is None:
            return
        cases = job["cases"]
        for index, case in enumerate(cases):
            params = case["params"]
            header = {"type": "case", "task": task.name, "case": case["name"], "call": 0}
            started = time.perf_counter()
            try:
                result = fn(*[params[name] for name in task.arg_names])
                order, problem = as_order(result, task.max_rows(params))
            except BaseException as exc:
                h.send({**header, "status": "error", "error": h.failure(exc)})
                return
            header["elapsed_s"] = time.perf_counter() - started
            header.update(status="returned", returned=devices.describe(result), problem=problem)
            h.send(header, {"order": order} if order is not None else {})
            h.progress(index + 1, len(cases), f"{task.name} {case['name']}")

    def judge_call(
        self, task: CacheTask, params: dict[str, Any], seed: int, frame: Frame, call: int
    ) -> CaseResult:
        """One case: the order the child sent, checked and replayed through the simulator."""
        result = call_result(task.name, params, frame)
        if result.reason:
            return result
        problem = str(frame.header.get("problem", "") or "")
        order = frame.arrays.get("order")
        if not problem and (order is None or order.ndim != 2 or order.shape[1:] != (3,)):
            problem = "the order must be an integer array of shape (T, 3)"
        if not problem and order.shape[0] > task.max_rows(params):
            problem = (
                f"the order has {order.shape[0]} rows; a full pass has {task.max_rows(params)}"
            )
        problems = [problem] if problem else task.validate(order, params)
        if problems:
            result.reason = "wrong_order"
            result.message = "; ".join(problems[:MAX_SHOWN])
            result.mismatches = problems[:MAX_SHOWN]
            return result
        mine = task.count(order, params)
        reference, baseline = known_counts(task, params)
        result.passed = True
        result.measures = {
            "cache": task.describe(params),
            "misses": mine,
            "reference_misses": reference,
            "baseline_misses": baseline,
            "fraction": miss_fraction(sum(mine.values()), reference, baseline, task.slack),
            "slack": task.slack,
        }
        return result

    def score_item(self, ctx: ScoreContext) -> Scored:
        """The mean over cases of where the misses fall between the unblocked order (0) and
        the reference blocking (full)."""
        if ctx.item.kind != "misses":
            return super().score_item(ctx)
        if ctx.zeroed:
            return 0.0, True, ctx.zeroed
        if not ctx.correct:
            return 0.0, True, "0: misses count only once every order is complete"
        measures = [c.measures for c in ctx.cases if c.measures]
        if len(measures) != len(ctx.cases):
            return 0.0, True, "0: some cases were not simulated"
        fraction = sum(m["fraction"] for m in measures) / len(measures)
        mine = sum(sum(m["misses"].values()) for m in measures)
        ref = sum(sum(m["reference_misses"].values()) for m in measures)
        base = sum(sum(m["baseline_misses"].values()) for m in measures)
        return (
            round(ctx.item.points * fraction, 2),
            True,
            (
                f"{mine} misses over {len(measures)} cases, against {ref} for the reference "
                f"blocking and {base} unblocked; per case, full points at up to "
                f"{measures[0]['slack']:g}x the reference's misses, 0 at the unblocked order's"
            ),
        )

    def how_checked(self, task: CacheTask) -> str:
        return (
            "Each case calls your function once; the grader checks that the order visits "
            "every (i, j, k) exactly once, then replays its loads and stores through the cache "
            "simulator (in the grader's own process, not yours)."
        )

    def charts(self, result: Any, tasks: list[CacheTask]) -> list[str]:
        """Misses per case: yours against the reference blocking and the unblocked order."""
        names = {t.name for t in tasks}
        groups = []
        for c in result.cases:
            m = c.measures
            if not m or c.task not in names:
                continue
            groups.append(
                (
                    c.case,  # the chart fits its group titles to the space
                    [
                        Bar("yours", sum(m["misses"].values()), STUDENT),
                        Bar("reference blocking", sum(m["reference_misses"].values()), REFERENCE),
                        Bar("unblocked", sum(m["baseline_misses"].values()), LIBRARY),
                    ],
                )
            )
        if not groups:
            return []
        return [bar_chart(groups, "misses", "Simulated cache misses per case (fewer is better)")]


KIND = CacheKind()
