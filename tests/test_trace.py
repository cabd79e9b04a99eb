"""The trace analysis on real CUPTI traces, captured on the lent H200 (2026-11-21) with
``python -m reference.lab1_streams.capture`` and committed under tests/fixtures/lab1."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import trace
from grader.charts import timeline_chart
from grader.kinds.pipeline import timeline

FIXTURES = Path(__file__).parent / "fixtures" / "lab1"


def summary(name: str) -> trace.TraceSummary:
    return trace.summarize(trace.load(FIXTURES / f"{name}.json.gz"))


def codes(s: trace.TraceSummary) -> set[str]:
    return {f.code for f in s.findings}


def test_pipelines_overlap_and_the_traps_do_not():
    good = summary("solution")
    assert good.fraction("two") > 0.3  # copies and kernels ran at the same time
    for trap in ("blocking_copy", "single_stream", "sync_each_chunk", "pageable", "serial"):
        bad = summary(trap)
        assert bad.fraction("two") < 0.02, trap
        assert bad.concurrency < 1.0 < good.concurrency, trap


def test_serial_run_sits_on_its_bound():
    serial = summary("serial")
    assert serial.streams == [trace.LEGACY_DEFAULT_STREAM]
    # One chunk: the bound is the sum of the three stages; only launch gaps remain.
    assert 1.0 <= serial.over_bound < 1.1
    assert serial.busy_us["h2d"] > 5 * serial.busy_us["kernel"]  # pageable copies are slow


def test_blocking_copy_is_named_as_the_default_stream():
    s = summary("blocking_copy")
    assert "default_stream" in codes(s)
    on_default = [a for a in s.activities if a.stream == trace.LEGACY_DEFAULT_STREAM]
    assert len(on_default) == 16 and all(a.kind == "d2h" for a in on_default)


def test_sync_in_the_loop_is_a_host_sync():
    s = summary("sync_each_chunk")
    host_syncs = [f for f in s.findings if f.code == "host_sync"]
    assert host_syncs and host_syncs[0].count == 15  # the last chunk's sync is the final one
    assert "host_sync" not in codes(summary("solution"))


def test_pageable_copies_are_found():
    assert "pageable" in codes(summary("pageable"))
    assert "pageable" not in codes(summary("solution"))


def test_bound_is_a_lower_bound_everywhere():
    for path in FIXTURES.glob("*.json.gz"):
        s = trace.summarize(trace.load(path))
        assert s.span_us >= s.bound_us >= s.ideal_us > 0, path.name


def test_union_and_busy_at_once():
    assert trace.union_length([(0, 2), (1, 3), (5, 6)]) == 4
    at_once = trace.busy_at_once({"h2d": [(0, 4)], "kernel": [(2, 6)], "d2h": [(3, 5)]})
    assert at_once[3] == 1 and at_once[2] == 2 and at_once[1] == 3


def test_pipeline_bound_formula():
    chunks = {"h2d": [1.0, 1.0], "kernel": [2.0, 2.0], "d2h": [1.0, 1.0]}
    busy = {"h2d": 2.0, "kernel": 4.0, "d2h": 2.0}
    assert trace.pipeline_bound(chunks, busy) == 6.0  # first copy in + kernels + last copy out


def test_timeline_draws_a_lane_per_stream_and_engine():
    s = summary("breadth_first")
    svg = timeline_chart(timeline(s), "breadth-first")
    assert svg.startswith("<svg")
    for stream in s.streams:
        assert f">stream {stream}<" in svg
    for lane in ("H2D engine", "SMs", "D2H engine", "wave 0"):
        assert lane in svg
    assert svg.count("<rect") > 2 * len(s.activities)


def test_empty_trace_is_an_error_not_a_zero():
    with pytest.raises(ValueError, match="no GPU activity"):
        trace.summarize({"traceEvents": []})


def test_no_pipeline_that_waits_before_returning_is_said_to_return_early():
    for name in ("solution", "breadth_first", "serial", "blocking_copy", "sync_each_chunk"):
        assert "returned_early" not in codes(summary(name)), name


def test_copies_still_running_when_run_returned_are_a_race_even_if_the_output_was_whole():
    """The reference's trace with its run range cut short, as if run had returned before the
    last copies out had landed (and the output had happened to be complete)."""
    data = trace.load(FIXTURES / "solution.json.gz")
    run = next(
        e for e in data["traceEvents"] if e.get("name") == trace.RUN_RANGE and e.get("ph") == "X"
    )
    good = summary("solution")
    last = max(a.end for a in good.activities if a.kind == "d2h")
    run_range = next(r for r in good.ranges if r.name == trace.RUN_RANGE)
    # Move the range's end to 500 us before the last copy out ends.
    run["dur"] = float(run["dur"]) - (run_range.end - (last - 500.0))
    early = trace.summarize(data)
    finding = next(f for f in early.findings if f.code == "returned_early")
    assert finding.count >= 1 and "complete only by luck" in finding.message


def _frame_of(*names: str, cut: str | None = None):
    """A timed frame carrying the named fixtures' traces (``cut``: that one cut short, as if
    run had returned before its last copies out)."""
    import gzip
    import json

    import numpy as np

    from grader.channel import Frame

    arrays = {}
    for i, name in enumerate(names):
        data = trace.load(FIXTURES / f"{name}.json.gz")
        if name == cut:
            run = next(
                e
                for e in data["traceEvents"]
                if e.get("name") == trace.RUN_RANGE and e.get("ph") == "X"
            )
            run["dur"] = float(run["dur"]) * 0.5
        packed = gzip.compress(json.dumps(data).encode())
        arrays[f"trace.{i}"] = np.frombuffer(packed, dtype=np.uint8)
    return Frame({"type": "bench", "status": "timed"}, arrays)


def test_the_overlap_is_the_median_traced_calls_and_a_race_in_any_of_them_counts():
    from grader.kinds.pipeline import median_trace, read_traces

    summaries, problems = read_traces(_frame_of("single_stream", "solution", "breadth_first"))
    assert not problems and len(summaries) == 3
    middle = median_trace(summaries)
    spans = sorted(s.over_bound for s in summaries)
    assert middle.over_bound == spans[1]

    from grader.kinds.base import ReferenceRun
    from grader.kinds.pipeline import _judge_pipeline
    from grader.results import BenchResult
    from grader.timing import summarize

    result = BenchResult("pipeline", "b", {}, "timed", student=summarize([0.01, 0.011], "fixed"))
    frame = _frame_of("solution", "solution", "breadth_first", cut="breadth_first")
    frame.header.update(student_ms=[10.0, 11.0], calllog=[])
    _judge_pipeline(result, frame, ReferenceRun(), ("pipeline", "b"))
    assert result.trace["traced_calls"] == 3
    assert "returned_early" in {f["code"] for f in result.trace["findings"]}


def test_a_trace_without_kernels_or_copies_back_is_not_a_pipeline_on_the_gpu():
    import dataclasses

    from grader.kinds.pipeline import _traces_off_device
    from labs import get

    task = get("lab1").task("pipeline")
    good = [summary(name) for name in ("solution", "serial", "pageable", "blocking_copy")]
    assert _traces_off_device(task, good) == []
    s = summary("solution")
    no_kernels = dataclasses.replace(s, activities=[a for a in s.activities if a.kind != "kernel"])
    no_copies = dataclasses.replace(s, activities=[a for a in s.activities if a.kind != "d2h"])
    assert [r for r, _ in _traces_off_device(task, [s, no_kernels])] == ["no_kernel"]
    assert [r for r, _ in _traces_off_device(task, [no_copies])] == ["no_copy"]


def test_judging_a_timed_pipeline_fails_a_race_the_trace_shows():
    """The kind's judge of one timed benchmark: a traced call cut short (copies still running
    when run returned) is a failed case 'race', named after the benchmark."""
    from dataclasses import asdict

    from grader.kinds.base import ReferenceRun
    from grader.kinds.pipeline import KIND
    from grader.timing import summarize
    from labs import get

    task = get("lab1").task("pipeline")
    bench = task.benchmarks[0]
    frame = _frame_of("solution", "solution", "breadth_first", cut="breadth_first")
    stats = asdict(summarize([0.01, 0.011, 0.012], "fixed"))
    frame.header.update(stats=stats, student_ms=[10.0, 11.0, 12.0], calllog=[])
    result, wrong = KIND.judge_bench(task, bench, frame, ReferenceRun())
    assert result.status == "timed"
    races = [c for c in wrong if c.reason == "race"]
    assert races and races[0].case == f"while timing {bench.name}" and not races[0].passed
