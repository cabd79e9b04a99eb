"""Part C's judge, in the grader's (parent) process: reads what the harness's ranks wrote and
compares it with the expected outputs and the least traffic, both computed elsewhere (the
reference's ``reference_outputs`` and ``expected_traffic``) and passed in.

:func:`judge` returns a JSON-able verdict: ``{"ok", "reason", "message", "ranks", "traffic"}``
where ``reason`` is None or a failure code:

    the harness's (a rank's status): not_implemented, exception, syntax_error, import_error,
        missing_function, split_mismatch, deadlock, type, dtype, shape, modified_input, ...
    crashed        a rank stopped inside a stage without reporting (gloo aborted it, a signal)
    deadlock       only ranks waiting for others are left (see the harness): reported after
                   any more specific failure of another rank
    no_result      a rank left no status or no outputs at all, or files that are not a
                   harness's (a status that is no JSON object, byte counts that are not counts)
    wrong_answer   what dispatch delivered to an expert, combine's output or the TP output is
                   wrong (the message says which rank, which part, and by how much)
    excess_traffic right outputs, but the ranks sent more than TRAFFIC_SLACK x the least
                   traffic of the chosen routing (+ a small allowance for the counts)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

TRAFFIC_SLACK = 1.5  # room for sending expert ids or gates along with the rows
ALLOWANCE_BYTES_PER_RANK = 1024  # count exchanges and other bookkeeping
DISPATCH_RTOL = DISPATCH_ATOL = 1e-6  # rows are moved, not computed: copies should be exact
COMBINE_RTOL = COMBINE_ATOL = 1e-5  # k weighted float32 terms
TP_RTOL, TP_ATOL = 1e-4, 1e-5  # float32 matmuls summed in another order
# A rank's byte count above this (a petabyte) is no count: the files come from the
# submission's processes, and a count like 1e400 or inf would overflow the grader's sums.
MAX_BYTES_SENT = 1 << 50


def _verdict(reason: str | None, message: str, **extra: Any) -> dict[str, Any]:
    return {"ok": reason is None, "reason": reason, "message": message, **extra}


def read_statuses(out_dir: Path, world_size: int) -> list[dict[str, Any] | None]:
    statuses: list[dict[str, Any] | None] = []
    for r in range(world_size):
        path = out_dir / f"rank{r}.json"
        try:
            status = json.loads(path.read_text())
        except (OSError, ValueError, RecursionError):
            status = None
        statuses.append(status if isinstance(status, dict) else None)  # not a harness's
    return statuses


def byte_counts(got: dict[str, np.ndarray]) -> list[int] | None:
    """A rank's bytes sent per phase (``dist_harness.PHASES``), or None when its archive holds
    no such counts: missing, of another shape or dtype, or not finite, negative or huge."""
    from labs.lab4_moe.dist_harness import PHASES

    counts = got.get("bytes_sent")
    if (
        not isinstance(counts, np.ndarray)
        or counts.shape != (len(PHASES),)
        or counts.dtype.kind not in "iuf"
    ):
        return None
    values = counts.astype(np.float64)
    if not (np.isfinite(values).all() and (values >= 0).all() and (values <= MAX_BYTES_SENT).all()):
        return None
    return [int(v) for v in values]


def _canonical(rows: np.ndarray) -> np.ndarray:
    """Rows sorted lexicographically: the order dispatch delivers them in is free."""
    if len(rows) == 0:
        return rows
    return rows[np.lexsort(rows.T[::-1])]


def _compare(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> str | None:
    """None if close, else what is wrong (NaN never passes)."""
    if got.shape != want.shape:
        return f"shape {got.shape}, expected {want.shape}"
    if got.size == 0:
        return None
    want64 = want.astype(np.float64)
    err = np.abs(got.astype(np.float64) - want64)
    tol = atol + rtol * np.abs(want64)
    bad = ~(err <= tol)
    if not bad.any():
        return None
    i = np.unravel_index(np.argmax(np.where(bad, err, -1.0)), got.shape)
    return (
        f"{int(bad.sum())} of {got.size} values wrong; worst at {tuple(int(x) for x in i)}: "
        f"{float(got[i])!r}, expected {float(want64[i])!r}"
    )


def _error(status: dict[str, Any]) -> dict[str, Any]:
    """A status's error, read defensively (the file comes from the submission's process)."""
    error = status.get("error")
    return error if isinstance(error, dict) else {}


def _error_message(rank: int, status: dict[str, Any]) -> str:
    error = _error(status)
    text = f"rank {rank}, during {status.get('stage', '?')}: {error.get('message', '')}"
    if error.get("traceback"):
        text += "\n" + str(error["traceback"])
    return text


def judge(
    out_dir: str | Path,
    world_size: int,
    expected: Sequence[dict[str, Any]],
    expected_traffic: Sequence[dict[str, int]],
    parts: Sequence[str] = ("moe", "tp"),
) -> dict[str, Any]:
    """The verdict on one harness run (see the module's docstring)."""
    out = Path(out_dir)
    statuses = read_statuses(out, world_size)
    ranks = [
        {"rank": r, "state": s.get("state") if s else None, "stage": s.get("stage") if s else None}
        for r, s in enumerate(statuses)
    ]

    # 1. Why a rank failed. A deadlock is usually another rank's fault (it skipped a
    # collective, raised, or died): a specific error first, then a rank that died, then the
    # deadlock itself.
    failed = [(r, s) for r, s in enumerate(statuses) if s and s.get("state") == "error"]
    own = [(r, s) for r, s in failed if _error(s).get("kind") != "deadlock"]
    if own:
        r, s = own[0]
        kind = _error(s).get("kind") or "exception"
        return _verdict(kind, _error_message(r, s), ranks=ranks)
    missing = [r for r, s in enumerate(statuses) if s is None]
    if missing:
        return _verdict("no_result", f"rank {missing[0]} left no status at all", ranks=ranks)
    running = [(r, s) for r, s in enumerate(statuses) if s and s.get("state") == "running"]
    if running:
        r, s = running[0]
        calls = s.get("calls")
        last = calls[-1] if isinstance(calls, list) and calls else {}
        last = last if isinstance(last, dict) else {}
        after = f" (its last collective call: {last['op']})" if last.get("op") else ""
        return _verdict(
            "crashed",
            f"rank {r} stopped during {s.get('stage')}{after} without reporting: the process "
            "died (a signal, a crash, or gloo aborting on a collective the ranks disagreed "
            "about)",
            ranks=ranks,
        )
    if failed:
        r, s = failed[0]
        return _verdict("deadlock", _error_message(r, s), ranks=ranks)

    # 2. The outputs.
    loaded = []
    for r in range(world_size):
        try:
            with np.load(out / f"rank{r}.npz", allow_pickle=False) as f:
                loaded.append({k: f[k] for k in f.files})
        except (OSError, ValueError) as exc:
            return _verdict("no_result", f"rank {r}'s outputs cannot be read: {exc}", ranks=ranks)
    checks: list[tuple[str, float, float]] = []
    for r, (got, want) in enumerate(zip(loaded, expected, strict=True)):
        if "moe" in parts:
            for j, rows in enumerate(want["expert_inputs"]):
                key = f"expert_in_{j}"
                if key not in got:
                    return _verdict("no_result", f"rank {r} wrote no {key}", ranks=ranks)
                e = r * len(want["expert_inputs"]) + j
                if got[key].shape[0] != rows.shape[0]:
                    return _verdict(
                        "wrong_answer",
                        f"rank {r}, expert {e}: dispatch delivered {got[key].shape[0]} rows, "
                        f"expected {rows.shape[0]} (every (token, expert) pair routed to it, "
                        "from every rank)",
                        ranks=ranks,
                    )
                problem = _compare(
                    _canonical(got[key]), _canonical(rows), DISPATCH_RTOL, DISPATCH_ATOL
                )
                if problem:
                    return _verdict(
                        "wrong_answer",
                        f"rank {r}, expert {e}: the rows dispatch delivered are not the tokens "
                        f"routed to it ({problem}, rows compared in sorted order)",
                        ranks=ranks,
                    )
            checks.append(("combined", COMBINE_RTOL, COMBINE_ATOL))
        if "tp" in parts:
            checks.append(("tp_out", TP_RTOL, TP_ATOL))
        for key, rtol, atol in checks:
            if key not in got:
                return _verdict("no_result", f"rank {r} wrote no {key}", ranks=ranks)
            problem = _compare(got[key], want[key], rtol, atol)
            if problem:
                what = "combine's output" if key == "combined" else "tp_mlp_forward's output"
                return _verdict("wrong_answer", f"rank {r}, {what}: {problem}", ranks=ranks)
        checks.clear()

    # 3. The traffic, once the outputs are right.
    for r, got in enumerate(loaded):
        if byte_counts(got) is None:
            return _verdict(
                "no_result",
                f"rank {r}'s outputs are malformed: its bytes_sent is not one finite, "
                "non-negative count of at most 2**50 bytes per phase",
                ranks=ranks,
            )
    traffic = traffic_summary(loaded, expected_traffic, parts)
    for name, row in traffic.items():
        if row["sent"] > row["limit"]:
            times = row["sent"] / max(1, row["least"])
            if name == "moe":
                advice = "Send each token only to the ranks that hold its experts."
                least = "the routing needs"
            else:
                advice = "Use one all_reduce of the partial output."
                least = "one ring all-reduce of the output sends"
            return _verdict(
                "excess_traffic",
                f"{name}: the ranks sent {row['sent']} bytes in all; {least} {row['least']} "
                f"(limit {row['limit']:.0f}): {times:.1f}x as much. {advice}",
                ranks=ranks,
                traffic=traffic,
            )
    return _verdict(None, "all ranks right", ranks=ranks, traffic=traffic)


def traffic_summary(
    loaded: Sequence[dict[str, np.ndarray]],
    expected_traffic: Sequence[dict[str, int]],
    parts: Sequence[str],
) -> dict[str, dict[str, float]]:
    """Per part: bytes sent by all ranks (counted), the least the routing needs, the limit.
    Raises ValueError for a rank whose byte counts are malformed (:func:`byte_counts`)."""
    from labs.lab4_moe.dist_harness import PHASES

    phases = {"moe": ("dispatch", "combine"), "tp": ("tp",)}
    world = len(loaded)
    counts = [byte_counts(got) for got in loaded]
    if any(c is None for c in counts):
        raise ValueError("a rank's bytes_sent is not a count per phase")
    summary = {}
    for part in parts:
        sent = sum(c[PHASES.index(p)] for c in counts for p in phases[part])
        least = sum(int(e[p]) for e in expected_traffic for p in phases[part])
        limit = TRAFFIC_SLACK * least + ALLOWANCE_BYTES_PER_RANK * world
        summary[part] = {"sent": sent, "least": least, "limit": limit}
    return summary
