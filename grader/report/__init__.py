"""One self-contained HTML page and one JSON file per run: the same facts, for people and tools."""

from __future__ import annotations

from pathlib import Path

import jinja2
from markupsafe import Markup

import labs
from grader.charts import REFERENCE, STUDENT, strip_chart
from grader.kinds import KINDS, kind_of
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


def kind_charts(result: RunResult) -> dict[str, list[Markup]]:
    """Each kind's charts for the lab's tasks of that kind, by kind name."""
    by_kind: dict[str, list] = {}
    for task in labs.get(result.lab).tasks:
        by_kind.setdefault(kind_of(task).name, []).append(task)
    return {
        name: [Markup(svg) for svg in KINDS[name].charts(result, tasks)]
        for name, tasks in by_kind.items()
    }


def sample_charts(result: RunResult) -> list[Markup]:
    """Every timed sample of every benchmark, yours beside the reference's."""
    drawn = []
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


def not_measured_reasons(result: RunResult) -> list[str]:
    """Why points were not measured: the run's reason, else each unmeasured line's own."""
    if result.not_measured:
        return list(result.not_measured)
    reasons = [
        line.detail.removeprefix("not measured: ") for line in result.rubric if not line.measured
    ]
    return list(dict.fromkeys(reasons))


def render_html(result: RunResult, json_name: str = "") -> str:
    copy_bw = result.ceilings.get("copy_bandwidth", {}).get("bytes_per_s")
    tasks = labs.get(result.lab).tasks
    kinds = [KINDS[name] for name in dict.fromkeys(kind_of(task).name for task in tasks)]
    return _ENV.get_template("report.html.j2").render(
        r=result,
        kinds=kinds,
        kind_charts=kind_charts(result),
        sample_charts=sample_charts(result),
        us=us,
        copy_bw=copy_bw,
        json_name=json_name,
        how_checked=how_checked(result.lab),
        not_measured=not_measured_reasons(result),
    )


def how_checked(lab_name: str) -> str:
    """What the check phase did to every case, from the lab's own task kinds."""
    sentences = dict.fromkeys(kind_of(task).how_checked(task) for task in labs.get(lab_name).tasks)
    return " ".join(s for s in sentences if s)


def write_report(result: RunResult, out_dir: Path, stem: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stem}.json"
    html_path = out_dir / f"{stem}.html"
    result.write_json(json_path)
    html_path.write_text(render_html(result, json_name=json_path.name))
    return html_path, json_path
