"""The HTML report: self-contained, drawn, and saying the same facts as the JSON."""

import json
import re
from pathlib import Path

import numpy as np

from grader.check import CaseResult
from grader.report import render_html, write_report
from grader.results import BenchResult, Failure, RubricLine, RunResult
from grader.timing import summarize


def _result(**changes) -> RunResult:
    rng = np.random.default_rng(0)
    student = summarize(list(70e-6 + 3e-6 * rng.standard_normal(60)), "standard error target")
    reference = summarize(list(66e-6 + 2e-6 * rng.standard_normal(60)), "standard error target")
    bench = BenchResult(
        "saxpy",
        "n=2^24+3",
        {"n": 2**24 + 3},
        "timed",
        student,
        reference,
        speedup=reference.median_s / student.median_s,
        traffic_bytes=12 * 2**24,
        floor_s=12 * 2**24 / 3e12,
        bandwidth_bytes_per_s=12 * 2**24 / 70e-6,
        fraction_of_copy_bandwidth=0.96,
    )
    base = dict(
        lab="lab0",
        lab_title="Warm-up: SAXPY on the GPU",
        submission="/x/student.py",
        student="you",
        mode="gpu",
        device={"mode": "gpu", "name": "NVIDIA H100", "compute_capability": "9.0"},
        started_at="2026-11-21T00:00:00+00:00",
        seconds=12.5,
        points=97.5,
        max_points=100,
        unmeasured_points=0,
        headline="97.5 / 100 points",
        next_steps=["Speed: 0.94x"],
        rubric=[
            RubricLine("saxpy", "correctness", 60, 60, True, "7 of 7 cases passed"),
            RubricLine("saxpy", "speed", 37.5, 40, True, "0.94x the reference"),
        ],
        cases=[CaseResult("saxpy", "n=127 <b>", {"n": 127}, True, worst_error_over_tolerance=0.1)],
        benches=[bench],
        ceilings={"copy_bandwidth": {"bytes_per_s": 3.0e12}},
        failure=None,
        flags=[],
        not_measured=[],
        logs=[],
        limits={"timeout_s": 60, "time_timeout_s": 300, "output_cap_bytes": 1 << 20},
    )
    base.update(changes)
    return RunResult(**base)


def test_the_report_draws_its_charts_inline_and_needs_no_network():
    html = render_html(_result())
    assert html.count("<svg") == 2  # bandwidth against the ceiling; every sample
    assert "device copy 3000 GB/s" in html
    external = re.findall(r'(?:src|href)="(?!#)([^"]+)"', html)
    assert external == []
    assert "<script" not in html


def test_submission_text_is_escaped():
    html = render_html(_result())
    assert "n=127 &lt;b&gt;" in html and "n=127 <b>" not in html


def test_the_json_holds_the_same_numbers_and_no_nan(tmp_path: Path):
    failure = Failure("wrong_answer", "Wrong values", "1 of 3 elements are wrong", "look")
    result = _result(failure=failure, points=0.0)
    result.cases[0].worst_error_over_tolerance = float("nan")
    html_path, json_path = write_report(result, tmp_path, "lab0")
    data = json.loads(json_path.read_text())
    assert data["points"] == 0 and data["failure"]["reason"] == "wrong_answer"
    assert data["cases"][0]["worst_error_over_tolerance"] is None
    assert data["benches"][0]["student"]["n"] == 60
    assert "1 of 3 elements are wrong" in html_path.read_text()


def test_without_a_gpu_the_report_says_no_timing_was_made():
    result = _result(
        mode="simulator",
        benches=[],
        device={"mode": "simulator"},
        not_measured=["no CUDA device"],
        unmeasured_points=40,
        ceilings={},
    )
    html = render_html(result)
    assert "Not measured: no CUDA device" in html and "<svg" not in html
    assert "No number on this page is a timing" in html


def test_strip_chart_ticks_are_distinct_even_for_a_narrow_spread():
    from grader.charts import strip_chart

    svg = strip_chart([("yours", [124.2, 124.9, 125.6], "#000")], "us", "t")
    ticks = re.findall(r'text-anchor="middle">([^<]+)</text>', svg)
    assert len(ticks) == 5 and len(set(ticks)) == 5


def _matmul_result() -> RunResult:
    """A lab 2 run: a kernel timed against cuBLAS, and a cache case with its misses."""
    result = _result(lab="lab2", lab_title="Cache-blocked matmul")
    bench = result.benches[0]
    bench.task, bench.bench = "matmul", "4096x4096x4096"
    bench.flops, bench.traffic_bytes = 2 * 4096**3, 12 * 4096**2
    bench.flops_per_s = bench.flops / 17.6e-3
    bench.reference_flops_per_s = bench.flops / 17.3e-3
    bench.library_name, bench.library_flops_per_s = "cuBLAS", bench.flops / 2.69e-3
    bench.share_of_library = 2.69 / 17.6
    cache = CaseResult("blocking", "the exam", {"n": 64}, True)
    cache.measures = {
        "cache": "4096 B direct-mapped",
        "misses": {"A": 10, "B": 20, "C": 30},
        "reference_misses": {"A": 10, "B": 20, "C": 30},
        "baseline_misses": {"A": 100, "B": 200, "C": 300},
        "fraction": 1.0,
        "slack": 1.1,
    }
    result.cases.append(cache)
    return result


def test_a_kernel_timed_against_cublas_gets_a_roofline_not_a_bandwidth_chart():
    html = render_html(_matmul_result())
    assert "Roofline: both roofs measured in this run" in html
    assert "cuBLAS 51.1 TFLOP/s" in html  # the compute roof is the library's measured rate
    assert "Achieved bandwidth" not in html
    assert "15.3%" in html  # the share of cuBLAS, in the table
    assert "Simulated cache misses per case" in html and "10 / 20 / 30" in html


def test_a_memory_bound_kernel_with_a_flop_count_keeps_its_bandwidth_chart():
    result = _result()
    result.benches[0].flops, result.benches[0].flops_per_s = 2 * 2**24, 2 * 2**24 / 70e-6
    html = render_html(result)
    assert "Achieved bandwidth" in html and "Roofline" not in html


def test_the_roofline_puts_the_ridge_where_the_roofs_meet():
    from grader.charts import RooflinePoint, roofline_chart

    svg = roofline_chart(
        [RooflinePoint("k", 100.0, 5e12, "#000")], 50e12, 4e12, "t", "peak 50 TFLOP/s"
    )
    ridge = re.search(r'points="[\d.]+,[\d.]+ ([\d.]+),([\d.]+) ([\d.]+),([\d.]+)"', svg)
    assert ridge and ridge.group(2) == ridge.group(4)  # flat after the ridge, at the peak
    assert roofline_chart([], 50e12, 4e12, "t", "p") == ""
    assert roofline_chart([RooflinePoint("k", 1.0, 1e12, "#000")], 0.0, 4e12, "t", "p") == ""
