"""One self-contained HTML page and one JSON file per run: the same facts, for people and tools."""

from __future__ import annotations

from pathlib import Path

import jinja2
from markupsafe import Markup

from grader.report.charts import (
    LIBRARY,
    REFERENCE,
    STUDENT,
    Bar,
    RooflinePoint,
    bar_chart,
    roofline_chart,
    strip_chart,
    timeline_chart,
)
from grader.results import RunResult

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def us(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} us"


def charts(result: RunResult) -> list[Markup]:
    copy_bw = result.ceilings.get("copy_bandwidth", {}).get("bytes_per_s")
    drawn: list[Markup] = []
    groups = []
    drawn.extend(_compute_charts(result, copy_bw))
    for b in result.benches:
        if b.library_flops_per_s is not None:
            continue  # measured against a compute library: the roofline shows its bytes
        bars = []
        for who, stats, colour in (
            ("yours", b.student, STUDENT),
            ("reference", b.reference, REFERENCE),
        ):
            if stats is None or not b.traffic_bytes or not copy_bw:
                continue
            traffic = b.traffic_bytes
            gbs = traffic / stats.median_s / 1e9
            bars.append(
                Bar(who, gbs, colour, traffic / stats.q3_s / 1e9, traffic / stats.q1_s / 1e9)
            )
        if bars:
            groups.append((f"{b.task} {b.bench}", bars))
    if groups and copy_bw:
        drawn.append(
            Markup(
                bar_chart(
                    groups,
                    "GB/s",
                    "Achieved bandwidth (minimum bytes moved / median time), with IQR",
                    ceiling=copy_bw / 1e9,
                    ceiling_label=f"device copy {copy_bw / 1e9:.0f} GB/s",
                )
            )
        )
    for b in result.benches:
        if b.timeline:
            drawn.append(
                Markup(timeline_chart(b.timeline, f"Timeline of one traced call: {b.bench}"))
            )
    for b in result.benches:
        series = []
        if b.student:
            series.append(("yours", [s * 1e6 for s in b.student.samples_s], STUDENT))
        if b.reference:
            series.append(("reference", [s * 1e6 for s in b.reference.samples_s], REFERENCE))
        svg = strip_chart(series, "microseconds", f"Every sample: {b.task} {b.bench}")
        if svg:
            drawn.append(Markup(svg))
    return drawn


def _cache_charts(result: RunResult) -> list[Markup]:
    """Part A of lab 2: misses per case, yours against the reference blocking and unblocked."""
    groups = []
    for c in result.cases:
        m = c.measures
        if not m:
            continue
        groups.append(
            (
                c.case[:30],
                [
                    Bar("yours", sum(m["misses"].values()), STUDENT),
                    Bar("reference blocking", sum(m["reference_misses"].values()), REFERENCE),
                    Bar("unblocked", sum(m["baseline_misses"].values()), LIBRARY),
                ],
            )
        )
    if not groups:
        return []
    title = "Simulated cache misses per case (fewer is better)"
    return [Markup(bar_chart(groups, "misses", title))]


def _compute_charts(result: RunResult, copy_bw: float | None) -> list[Markup]:
    """Kernels timed against a compute library (cuBLAS): TFLOP/s, and the roofline."""
    timed = [b for b in result.benches if b.library_flops_per_s is not None]
    if not timed:
        return []
    groups = []
    points = []
    for b in timed:
        bars = [Bar("yours", b.flops_per_s / 1e12, STUDENT)]
        points.append(RooflinePoint(f"yours {b.bench}", b.intensity, b.flops_per_s, STUDENT))
        if b.reference_flops_per_s:
            bars.append(Bar("reference", b.reference_flops_per_s / 1e12, REFERENCE))
            points.append(
                RooflinePoint("reference", b.intensity, b.reference_flops_per_s, REFERENCE)
            )
        if b.library_flops_per_s:
            bars.append(Bar(b.library_name, b.library_flops_per_s / 1e12, LIBRARY))
            points.append(
                RooflinePoint(b.library_name, b.intensity, b.library_flops_per_s, LIBRARY)
            )
        groups.append((f"{b.task} {b.bench}", bars))
    drawn = [Markup(bar_chart(groups, "TFLOP/s", "Achieved TFLOP/s (2MNK / median time)"))]
    peak = max((b.library_flops_per_s or 0.0) for b in timed)
    if peak and copy_bw:
        library = timed[0].library_name
        svg = roofline_chart(
            points,
            peak,
            copy_bw,
            "Roofline: both roofs measured in this run",
            f"{library} {peak / 1e12:.1f} TFLOP/s",
        )
        if svg:
            drawn.append(Markup(svg))
    return drawn


def render_html(result: RunResult, json_name: str = "") -> str:
    copy_bw = result.ceilings.get("copy_bandwidth", {}).get("bytes_per_s")
    return _ENV.get_template("report.html.j2").render(
        r=result,
        charts=charts(result),
        cache_charts=_cache_charts(result),
        us=us,
        copy_bw=copy_bw,
        json_name=json_name,
        how_checked=how_checked(result.lab),
    )


def how_checked(lab_name: str) -> str:
    """What the check phase did to every case, from the lab's own task kinds."""
    import labs

    sentences = dict.fromkeys(task.how_checked() for task in labs.get(lab_name).tasks)
    return " ".join(sentences)


def write_report(result: RunResult, out_dir: Path, stem: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stem}.json"
    html_path = out_dir / f"{stem}.html"
    result.write_json(json_path)
    html_path.write_text(render_html(result, json_name=json_path.name))
    return html_path, json_path
