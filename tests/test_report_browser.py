"""Reports laid out by a real browser (headless Chromium): nothing runs past the page's column,
and no two text labels of a chart cover each other or stick out of it.

Every lab's report is checked: its reference and one known-wrong submission graded under the
simulator, a GPU run of it built like tests/test_report.py builds one (benches, a timeline, a
roofline), and the GPU runs recorded in docs/gpu-runs. Then charts drawn from awkward data.
Each page is laid out at a desktop width and a phone's. ``CWB_SCREENSHOTS=<folder>`` also
keeps a PNG of each page there, for a person to look at.
"""

from __future__ import annotations

import json
import math
import os
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import labs
from grader import charts, trace
from grader.charts import REFERENCE, STUDENT, Bar, RooflinePoint
from grader.check import CaseResult
from grader.kinds.pipeline import timeline
from grader.report import render_html
from grader.results import BenchResult, RubricLine, RunResult
from grader.runner import Grader, Options
from grader.timing import summarize
from tests.support import browser

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        browser.chromium() is None,
        reason="needs Chromium to lay the reports out: none found (apt-get install chromium, "
        "or set CWB_CHROMIUM to its path)",
    ),
]

ROOT = Path(__file__).parent.parent
WIDTHS = (1024, 480)  # a desktop window, a phone
# The known-wrong submission each lab's report is checked with: one with a traceback or a
# multi-line message, and (lab 2) a wrong part B beside a graded part A. Other labs: their first.
WRONG = {"lab0": "syntax_error.py", "lab1": "raises.py", "lab2": "transposed.py"}


def _stats(median_s: float, n: int = 50, seed: int = 0):
    rng = np.random.default_rng(seed)
    return summarize(list(median_s * (1 + 0.03 * rng.standard_normal(n))), "fixed count")


def _base(lab: str, **changes) -> RunResult:
    spec = labs.get(lab)
    fields = dict(
        lab=lab,
        lab_title=spec.title,
        submission=f"/home/a-student-with-a-long-name/course/{spec.slug}/student.py",
        student="you",
        mode="gpu",
        device={"mode": "gpu", "name": "NVIDIA H200", "compute_capability": "9.0"},
        started_at="2026-11-22T01:28:15+00:00",
        seconds=20.9,
        points=spec.max_points,
        max_points=spec.max_points,
        unmeasured_points=0,
        headline=f"{spec.max_points:g} / {spec.max_points:g} points",
        next_steps=[],
        rubric=[
            RubricLine(i.task, i.kind, i.points, i.points, True, i.description or "full marks")
            for i in spec.rubric
        ],
        cases=[],
        benches=[],
        ceilings={"copy_bandwidth": {"bytes_per_s": 4.24e12}},
        failure=None,
        flags=[],
        not_measured=[],
        logs=[],
        limits={"timeout_s": 60, "time_timeout_s": 300, "output_cap_bytes": 1 << 20},
    )
    fields.update(changes)
    return RunResult(**fields)


def gpu_lab0() -> RunResult:
    """Three sizes, one far slower than the reference (a long bar beside a short one)."""
    benches = []
    for k, (exponent, slowdown) in enumerate([(25, 1.0), (26, 1.3), (27, 4.0)]):
        n = 2**exponent + 3
        reference = _stats(n * 12 / 3.2e12, seed=k)
        student = _stats(n * 12 / 3.2e12 * slowdown, seed=k + 10)
        benches.append(
            BenchResult(
                "saxpy",
                f"n=2^{exponent}+3",
                {"n": n},
                "timed",
                student,
                reference,
                speedup=reference.median_s / student.median_s,
                traffic_bytes=12 * n,
                floor_s=12 * n / 4.24e12,
                bandwidth_bytes_per_s=12 * n / student.median_s,
                fraction_of_copy_bandwidth=12 * n / student.median_s / 4.24e12,
            )
        )
    cases = [
        CaseResult("saxpy", f"n={n}", {"n": n}, True, worst_error_over_tolerance=0.1)
        for n in (1, 127, 1000, 2053, 10**7)
    ]
    return _base("lab0", benches=benches, cases=cases)


def gpu_lab1() -> RunResult:
    """A traced pipeline with pageable copies: its timeline, findings and blocking calls."""
    benches = []
    for k, name in enumerate(("solution", "pageable")):
        summary = trace.summarize(trace.load(ROOT / "tests/fixtures/lab1" / f"{name}.json.gz"))
        student = _stats(summary.span_us / 1e6 * 1.1, n=10, seed=k)
        baseline = _stats(0.0123, n=10, seed=k + 5)
        bench = BenchResult(
            "pipeline",
            f"n=2^{25 + k}, 16 chunks, 4 streams ({name})",
            {"n": 2 ** (25 + k)},
            "timed",
            student,
            _stats(0.0072, n=10, seed=k + 7),
            speedup=0.0072 / student.median_s,
            baseline=baseline,
            baseline_speedup=baseline.median_s / student.median_s,
            reference_baseline_speedup=0.0123 / 0.0072,
            trace=summary.figures(),
            reference_trace=summary.figures(),
            timeline=timeline(summary),
            blocking_calls=[
                {
                    "message": "line 60: copy_to_host without a stream, 16 call(s), 9.21 ms of "
                    "host time. Without a stream it is a blocking cudaMemcpy on the legacy default "
                    "stream: pass stream=..."
                }
            ],
            event_timing_error=0.012,
        )
        benches.append(bench)
    return _base("lab1", benches=benches)


def gpu_lab2() -> RunResult:
    """cuBLAS, the reference and yours at nearly the same rate (points on one spot of the
    roofline), and four cache cases with long names."""
    benches = []
    for k, (shape, seconds) in enumerate([((4096,) * 3, 17.3e-3), ((1023, 1025, 1027), 0.29e-3)]):
        m, n, kk = shape
        flops, traffic = 2 * m * n * kk, 4 * (m * kk + kk * n + m * n)
        student, reference = _stats(seconds, n=10, seed=k), _stats(seconds * 0.999, seed=k + 3)
        library = _stats(seconds / 6.5, n=10, seed=k + 6)
        benches.append(
            BenchResult(
                "matmul",
                "x".join(map(str, shape)),
                {"m": m, "n": n, "k": kk},
                "timed",
                student,
                reference,
                speedup=reference.median_s / student.median_s,
                traffic_bytes=traffic,
                flops=flops,
                flops_per_s=flops / student.median_s,
                reference_flops_per_s=flops / reference.median_s,
                library=library,
                library_name="cuBLAS",
                library_flops_per_s=flops / library.median_s,
                share_of_library=library.median_s / student.median_s,
            )
        )
    cases = []
    for name, base in [
        ("the exam: n=64, 4 KiB direct-mapped, 64 B lines", 138120),
        ("n=64, 4 KiB 2-way LRU", 46728),
        ("n=100 (partial blocks), 4 KiB direct-mapped, 64 B lines", 220058),
        ("n=96, block 16, 8 KiB 4-way LRU", 19422),
    ]:
        case = CaseResult("blocking", name, {}, True)
        case.measures = {
            "cache": "4096 B direct-mapped, 64 B lines, 64 sets; each array starting in set 0",
            "misses": {"A": base // 4, "B": base // 4, "C": base - base // 2},
            "reference_misses": {"A": base // 4, "B": base // 4, "C": base - base // 2},
            "baseline_misses": {"A": base * 2, "B": base * 3, "C": base * 4},
            "fraction": 1.0,
            "slack": 1.1,
        }
        cases.append(case)
    return _base("lab2", benches=benches, cases=cases)


def gpu_lab3() -> RunResult:
    """A stage sweep: yours, the reference's, Little's law's prediction, the device copy."""
    stages = [1, 2, 3, 4, 6, 8]
    gbps = [900.0, 1700.0, 2400.0, 2900.0, 3300.0, 3400.0]
    bench = BenchResult(
        "stream",
        "n=2^28",
        {"n": 1 << 28},
        "timed",
        _stats(8 * 2**28 / 3.4e12),
        _stats(8 * 2**28 / 3.45e12, seed=3),
        speedup=3.4 / 3.45,
        extra={
            "stages": stages,
            "gbps": gbps,
            "reference_gbps": [g * 1.02 for g in gbps],
            "predicted_gbps": [min(1000.0 * s, 4240.0) for s in stages],
            "best_stages": 8,
            "copy_gbps": 4240.0,
            "idle_latency_ns": 820.0,
            "loaded_latency_ns": 1900.0,
        },
    )
    return _base("lab3", benches=[bench])


def gpu_lab4() -> RunResult:
    """A roofline sweep over batches that double, yours beside the grader's."""
    batches = [2**k for k in range(13)]
    times_ms = [0.005 * max(1.0, b / 256) for b in batches]
    bench = BenchResult(
        "measure",
        "the grader's sweep",
        {},
        "timed",
        extra={"batches": batches, "times_ms": times_ms, "knee": 256.0, "predicted": 300.0},
    )
    mine = CaseResult("measure", "your sweep", {}, True)
    mine.measures = {"times_ms": [t * 1.05 for t in times_ms]}
    return _base("lab4", benches=[bench], cases=[mine])


def awkward_charts() -> str:
    """Charts drawn from the data most likely to collide: long names, values five orders of
    magnitude apart, a ceiling at the right edge, nine roofline points in a cluster."""
    groups = [
        (f"a group with a rather long name, number {g} of three, n=2^{20 + g}+3", bars)
        for g, bars in enumerate(
            [
                [Bar("yours", 1.0, STUDENT), Bar("reference blocking", 1e5, REFERENCE)],
                [Bar("a bar whose label is far too long for its column", 3e4, STUDENT)],
                [Bar("yours", float("nan"), STUDENT), Bar("x", 0.0, REFERENCE)],
            ]
        )
    ]
    svgs = [
        charts.bar_chart(groups, "GB/s", "Bars " * 40, ceiling=1e5, ceiling_label="ceiling " * 4),
        charts.strip_chart(
            [("yours", [124.2, 124.9, 125.6], STUDENT), ("reference", [1e5, 1.2e5], REFERENCE)],
            "microseconds",
            "A strip chart over a wide range",
        ),
        charts.strip_chart([("one", [17318.25, 17429.5], STUDENT)], "us", "Narrow"),
        charts.roofline_chart(
            [
                RooflinePoint(f"{who} {size}", intensity, rate, colour)
                for size, intensity in (("4096x4096x4096", 683.0), ("1023x1025x1027", 171.0))
                for who, rate, colour in (
                    ("yours", 7.93e12, STUDENT),
                    ("reference", 7.92e12, REFERENCE),
                    ("cuBLAS", 51.0e12, charts.LIBRARY),
                    ("tiled v2", 8.1e12, STUDENT),
                )
            ]
            + [RooflinePoint("a memory-bound kernel", 0.17, 0.5e12, STUDENT)],
            51.0e12,
            4.24e12,
            "Roofline of a crowded run",
            "cuBLAS 51.0 TFLOP/s",
        ),
    ]
    waves = trace.summarize(trace.load(ROOT / "tests/fixtures/lab1/breadth_first.json.gz"))
    crowded = timeline(waves)
    start = min(a[2] for a in crowded["activities"])
    crowded["ranges"] = [  # many short ranges with long names, some nested
        [f"stage {i}: copy chunk {i} to the device and run it", start + 90 * i, start + 90 * i + 70]
        for i in range(40)
    ] + [["the whole pipeline, from the first copy to the last", start, start + 3600]]
    svgs.append(charts.timeline_chart(crowded, "A timeline with many named ranges " * 3))
    sizes = [2**k for k in range(16)]
    svgs.append(
        charts.line_chart(
            [
                ("yours", sizes, [1e-3 * k**1.5 + 7 for k in sizes], STUDENT),
                (
                    "a reference with a long name",
                    sizes,
                    [1e-3 * k**1.4 + 5 for k in sizes],
                    REFERENCE,
                ),
            ],
            "batch b",
            "microseconds per call",
            "A sweep over sizes that double, up to 32768",
            ceiling=40000.0,
            ceiling_label="a ceiling",
        )
    )
    svgs.append(
        charts.line_chart(
            [("close points", [1000, 1001, 1003, 1010, 2000], [1.0, 2.0, 3.0, 4.0, 5.0], STUDENT)],
            "x",
            "y",
            "Points whose x labels would touch",
        )
    )
    body = "\n".join(f"<div>{svg}</div>" for svg in svgs if svg)
    return (
        '<!doctype html><html><head><meta charset="utf-8"><style>body{max-width:980px;'
        "margin:2rem auto;padding:0 1rem} svg{max-width:100%;height:auto}</style></head>"
        f"<body>{body}</body></html>"
    )


@cache
def pages() -> dict[str, str]:
    """Every page to check, by name."""
    found: dict[str, str] = {}
    for name in labs.names():
        lab = labs.get(name)
        grader = Grader(lab, Options(mode="simulator"))
        wrong = sorted(p.name for p in (lab.reference_folder / "wrong").glob("*.py"))
        wrong = [w for w in wrong if w != "__init__.py"]
        known_wrong = lab.reference_folder / "wrong" / (WRONG.get(name) or wrong[0])
        for submission in (lab.solution_path, known_wrong):
            result = grader.grade(submission, student="you")
            found[f"{name}-simulator-{submission.stem}"] = render_html(result)
    builders = {"lab0": gpu_lab0, "lab1": gpu_lab1, "lab2": gpu_lab2, "lab3": gpu_lab3}
    builders["lab4"] = gpu_lab4
    for name, build in builders.items():
        if name in labs.names():
            found[f"{name}-gpu-built"] = render_html(build())
    for path in sorted((ROOT / "docs/gpu-runs").glob("*/*.json")):
        data = json.loads(path.read_text())
        if "rubric" in data and data.get("lab") in labs.names():
            found[f"gpu-run-{path.parent.name}-{path.stem}"] = render_html(
                RunResult.from_dict(data)
            )
    found["awkward-charts"] = awkward_charts()
    return found


def _problems(page: str, width: int) -> list[str]:
    found = browser.measure(page, width)
    problems = [
        f"past the page's column ({found['column_right']:.0f}px): {o['element']} "
        f"(to {o['right']:.0f}px)"
        for o in found["overflow"]
    ]
    for svg in found["svgs"]:
        problems += [f"{svg['title']}: {a!r} covers {b!r}" for a, b in svg["overlaps"]]
        problems += [f"{svg['title']}: {t!r} sticks out of the chart" for t in svg["outside"]]
    return problems


@pytest.mark.parametrize("width", WIDTHS)
def test_every_report_fits_its_page_and_no_chart_label_covers_another(width: int):
    shots = os.environ.get("CWB_SCREENSHOTS")
    problems, svgs = {}, 0
    for name, page in pages().items():
        found = _problems(page, width)
        if found:
            problems[name] = found
        svgs += page.count("<svg")
        if shots:
            browser.screenshot(page, Path(shots) / f"{name}-{width}.png", width)
    assert svgs >= 10  # the charts were drawn (a page of none would pass trivially)
    assert not problems, json.dumps(problems, indent=2)


def test_the_probe_sees_an_overlap_and_an_overflow():
    """The check itself: two labels on one spot, and a table wider than the page, are found."""
    page = (
        "<html><body style='max-width:400px'><svg width='300' height='60' "
        "font-family='sans-serif' font-size='12'><text x='10' y='20'>yours 7.93</text>"
        "<text x='20' y='24'>reference 7.92</text><text x='280' y='50'>cut off</text></svg>"
        "<table><tr><td>" + "w" * 200 + "</td></tr></table></body></html>"
    )
    found = browser.measure(page, 1024)
    assert found["svgs"][0]["overlaps"] == [["yours 7.93", "reference 7.92"]]
    assert found["svgs"][0]["outside"] == ["cut off"]
    assert any(o["element"].startswith("table") for o in found["overflow"])
    assert math.isclose(found["page_width"], 1024)
