"""Judging a timed pipeline (lab 1) in the parent: its trace, its speedup over the serial
baseline, the hidden synchronisations it made, and its own event timing.

Everything here reads frames the child sent; the verdicts are the parent's.
"""

from __future__ import annotations

import gzip
import json
import statistics
from typing import Any

import numpy as np

from grader import calllog, trace
from grader.channel import Frame
from grader.results import BenchResult
from grader.timing import TimingStats

TIMELINE_LIMIT = 2000  # activities drawn; a pipeline of 16 chunks has about 50
EVENT_TIMING_TOLERANCE = 0.10  # the student's events against the grader's, relative


def read_trace(packed: np.ndarray) -> trace.TraceSummary | str:
    """A trace summary, or why the trace could not be read."""
    try:
        data = json.loads(gzip.decompress(packed.tobytes()))
        return trace.summarize(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"the trace could not be read: {exc}"


def judge(result: BenchResult, frame: Frame, reference: Any, key: tuple[str, str]) -> None:
    """Fill a pipeline's bench result: speedups, trace figures, findings, event timing."""
    header = frame.header
    baseline = reference.baselines.get(key)
    if baseline is not None:
        result.baseline = TimingStats.from_dict(baseline["stats"])
        result.baseline_speedup = result.baseline.median_s / result.student.median_s
        ref = reference.benches.get(key)
        if ref is not None:
            result.reference_baseline_speedup = (
                result.baseline.median_s / TimingStats.from_dict(ref["stats"]).median_s
            )
    summary = read_trace(frame.arrays["trace"]) if "trace" in frame.arrays else "no trace"
    if isinstance(summary, str):
        result.flags.append(summary)
    else:
        result.trace = summary.figures()
        result.timeline = timeline(summary)
        _check_trace_against_events(result, summary)
    ref_summary = reference.traces.get(key)
    if isinstance(ref_summary, trace.TraceSummary):
        result.reference_trace = ref_summary.figures()
    result.blocking_calls = blocking_calls(header.get("calllog") or [])
    result.event_timing_error = event_timing_error(
        header.get("student_ms") or [], result.student.samples_s
    )


def _check_trace_against_events(result: BenchResult, summary: trace.TraceSummary) -> None:
    """The trace comes from the child: its span must fit inside what the events measured."""
    span_s = summary.span_us / 1e6
    slowest = max(result.student.samples_s or [result.student.median_s])
    if span_s > 3 * slowest + 0.005:
        result.flags.append(
            f"the traced call took {span_s * 1e3:.2f} ms on the GPU, far longer than any timed "
            f"call ({slowest * 1e3:.2f} ms): the trace and the timing disagree"
        )


def timeline(summary: trace.TraceSummary) -> dict[str, Any]:
    """What the report draws: one lane per stream, the host's named ranges above."""
    return {
        "span_us": summary.span_us,
        "activities": [
            [a.kind, a.stream, round(a.start, 2), round(a.end, 2), a.pageable]
            for a in summary.activities[:TIMELINE_LIMIT]
        ],
        "ranges": [
            [r.name, round(r.start, 2), round(r.end, 2)]
            for r in summary.ranges
            if not r.name.startswith("cwb:")
        ],
        "streams": summary.streams,
    }


def blocking_calls(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The call log's blocking calls, each with a sentence that names the line."""
    found = []
    for group in calllog.summarize(entries):
        call = group["call"]
        count, line, ms = group["count"], group["line"], group["host_us"] / 1e3
        if call in calllog.COPY and not group["stream"]:
            text = (
                f"line {line}: {group['name']} without a stream, {count} call(s), {ms:.2f} ms "
                "of host time. Without a stream it is a blocking cudaMemcpy on the legacy "
                "default stream: pass stream=..."
            )
        elif call in calllog.SYNC and group["before_last_copy"]:
            text = (
                f"line {line}: {group['name']}, {group['before_last_copy']} call(s) before the "
                f"last copy was issued, {ms:.2f} ms of host time waiting instead of issuing "
                "work. Synchronise once, after everything is issued (or use events and "
                "stream waits between streams)"
            )
        elif call in calllog.ALLOC:
            text = (
                f"line {line}: {group['name']} inside run, {count} call(s), {ms:.2f} ms: "
                "allocation can synchronise the device; allocate in setup"
            )
        else:
            continue
        found.append({**group, "message": text})
    return found


def event_timing_error(student_ms: list[Any], grader_s: list[float]) -> float | None:
    """Median relative difference between the student's milliseconds and the grader's."""
    pairs = [
        (float(s), g * 1e3)
        for s, g in zip(student_ms, grader_s, strict=False)
        if isinstance(s, int | float) and g > 0
    ]
    if not pairs:
        return None
    return statistics.median(abs(s - g) / g for s, g in pairs)


def hidden_syncs(result: BenchResult) -> list[str]:
    """Sentences for every hidden synchronisation the trace or the call log found."""
    sentences = [entry["message"] for entry in result.blocking_calls]
    for finding in (result.trace or {}).get("findings", []):
        if finding["code"] in ("host_sync", "default_stream", "pageable"):
            sentences.append(finding["message"])
    return sentences
