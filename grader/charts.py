"""Inline SVG charts for the HTML report: no JavaScript, no network, readable when printed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

STUDENT = "#2b6cb0"
REFERENCE = "#a0aec0"
CEILING = "#c53030"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


@dataclass
class Bar:
    label: str
    value: float  # in the chart's unit
    colour: str
    low: float | None = None  # whisker, e.g. the IQR
    high: float | None = None
    note: str = ""


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def bar_chart(
    groups: Sequence[tuple[str, Sequence[Bar]]],
    unit: str,
    title: str,
    ceiling: float | None = None,
    ceiling_label: str = "",
    width: int = 720,
) -> str:
    """Horizontal bars, grouped; optional vertical ceiling line (e.g. 100% of copy bandwidth)."""
    label_w, right_pad, bar_h, gap, top = 190, 70, 16, 10, 34
    rows = sum(len(bars) for _, bars in groups)
    height = top + rows * (bar_h + 4) + len(groups) * gap + 30
    values = [b.high if b.high is not None else b.value for _, bars in groups for b in bars]
    vmax = max([v for v in values if math.isfinite(v)] + [ceiling or 0, 1e-12]) * 1.08
    plot_w = width - label_w - right_pad

    def x(v: float) -> float:
        return label_w + plot_w * max(0.0, min(v, vmax)) / vmax

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT}>',
        f'<text x="0" y="16" font-weight="600">{escape(title)}</text>',
    ]
    y = top
    for group, bars in groups:
        out.append(f'<text x="0" y="{y + 12}" font-weight="600">{escape(group)}</text>')
        for bar in bars:
            out.append(
                f'<text x="{label_w - 8}" y="{y + 12}" text-anchor="end">{escape(bar.label)}</text>'
            )
            if math.isfinite(bar.value):
                out.append(
                    f'<rect x="{label_w}" y="{y}" width="{x(bar.value) - label_w:.1f}" '
                    f'height="{bar_h}" fill="{bar.colour}"><title>{escape(bar.label)}: '
                    f"{_fmt(bar.value)} {escape(unit)} {escape(bar.note)}</title></rect>"
                )
                if bar.low is not None and bar.high is not None:
                    mid = y + bar_h / 2
                    out.append(
                        f'<line x1="{x(bar.low):.1f}" x2="{x(bar.high):.1f}" y1="{mid}" '
                        f'y2="{mid}" stroke="#1a202c" stroke-width="1.5"/>'
                    )
                out.append(
                    f'<text x="{x(bar.value) + 4:.1f}" y="{y + 12}">{_fmt(bar.value)} '
                    f"{escape(unit)}</text>"
                )
            else:
                out.append(
                    f'<text x="{label_w + 4}" y="{y + 12}" fill="#718096">not measured</text>'
                )
            y += bar_h + 4
        y += gap
    if ceiling:
        cx = x(ceiling)
        out.append(
            f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{top - 6}" y2="{y}" stroke="{CEILING}" '
            'stroke-dasharray="4 3"/>'
        )
        out.append(
            f'<text x="{cx:.1f}" y="{y + 14}" text-anchor="middle" fill="{CEILING}">'
            f"{escape(ceiling_label)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def strip_chart(
    series: Sequence[tuple[str, Sequence[float], str]], unit: str, title: str, width: int = 720
) -> str:
    """Every sample as a dot, one row per series, with its median and IQR as a box."""
    label_w, right_pad, row_h, top = 190, 30, 26, 34
    height = top + row_h * len(series) + 36
    finite = [v for _, samples, _ in series for v in samples if math.isfinite(v)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or max(hi, 1e-12) * 0.1
    lo, hi = lo - 0.05 * span, hi + 0.05 * span
    plot_w = width - label_w - right_pad

    def x(v: float) -> float:
        return label_w + plot_w * (v - lo) / (hi - lo)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT}>',
        f'<text x="0" y="16" font-weight="600">{escape(title)}</text>',
    ]
    for row, (label, samples, colour) in enumerate(series):
        y = top + row * row_h
        mid = y + row_h / 2
        out.append(
            f'<text x="{label_w - 8}" y="{mid + 4}" text-anchor="end">'
            f"{escape(label)} (n={len(samples)})</text>"
        )
        ordered = sorted(samples)
        if ordered:
            q1, med, q3 = (ordered[int(q * (len(ordered) - 1))] for q in (0.25, 0.5, 0.75))
            out.append(
                f'<rect x="{x(q1):.1f}" y="{y + 3}" width="{max(x(q3) - x(q1), 1):.1f}" '
                f'height="{row_h - 6}" fill="{colour}" fill-opacity="0.18" '
                f'stroke="{colour}"/>'
            )
            out.append(
                f'<line x1="{x(med):.1f}" x2="{x(med):.1f}" y1="{y + 2}" '
                f'y2="{y + row_h - 2}" stroke="{colour}" stroke-width="2.5"/>'
            )
        for i, v in enumerate(samples[:400]):
            jitter = ((i * 7919) % 13 - 6) * (row_h - 10) / 13 / 2
            out.append(
                f'<circle cx="{x(v):.1f}" cy="{mid + jitter:.1f}" r="1.6" '
                f'fill="{colour}" fill-opacity="0.6"/>'
            )
    axis_y = top + row_h * len(series) + 4
    out.append(
        f'<line x1="{label_w}" x2="{label_w + plot_w}" y1="{axis_y}" y2="{axis_y}" '
        'stroke="#4a5568"/>'
    )
    step = (hi - lo) / 4
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0  # distinct ticks
    for k in range(5):
        v = lo + step * k
        out.append(
            f'<text x="{x(v):.1f}" y="{axis_y + 16}" text-anchor="middle">{v:.{decimals}f}</text>'
        )
    out.append(
        f'<text x="{label_w + plot_w}" y="{axis_y + 30}" text-anchor="end">{escape(unit)}</text>'
    )
    out.append("</svg>")
    return "\n".join(out)


KIND_COLOURS = {"h2d": "#3182ce", "kernel": "#38a169", "d2h": "#dd6b20", "d2d": "#805ad5"}
KIND_LABELS = {"h2d": "copy in (H2D)", "kernel": "kernel", "d2h": "copy out (D2H)"}
ENGINE_LANES = (("h2d", "H2D engine"), ("kernel", "SMs"), ("d2h", "D2H engine"))


def timeline_chart(timeline: dict, title: str, width: int = 900) -> str:
    """One lane per stream, then one per engine, the host's named ranges above; time in ms.

    ``timeline``: ``{"span_us", "activities": [[kind, stream, start, end, pageable]],
    "ranges": [[name, start, end]], "streams": [...]}`` (see grader.pipeline_judge.timeline).
    Pageable copies are drawn hatched-out in red, the legacy default stream is named.
    """
    activities = timeline.get("activities") or []
    if not activities:
        return ""
    ranges = timeline.get("ranges") or []
    start = min([a[2] for a in activities] + [r[1] for r in ranges])
    end = max([a[3] for a in activities] + [r[2] for r in ranges])
    span = max(end - start, 1e-9)
    left, right, lane, gap = 130, 20, 18, 4
    range_rows = _pack_rows(ranges)
    streams = list(timeline.get("streams") or sorted({a[1] for a in activities}))
    lanes = [(f"range {i + 1}", "range") for i in range(max(range_rows, default=-1) + 1)]
    lanes += [("default stream" if s == 7 else f"stream {s}", s) for s in streams]
    lanes += [(label, kind) for kind, label in ENGINE_LANES]
    top = 28
    height = top + len(lanes) * (lane + gap) + 44
    plot = width - left - right

    def x(t: float) -> float:
        return left + (t - start) / span * plot

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="16" {FONT} font-weight="600">{escape(title)}</text>',
    ]
    row_of = {name: i for i, (name, _) in enumerate(lanes)}
    for i, (name, _) in enumerate(lanes):
        y = top + i * (lane + gap)
        parts.append(f'<text x="{left - 6}" y="{y + 13}" {FONT} text-anchor="end">{name}</text>')
        parts.append(f'<rect x="{left}" y="{y}" width="{plot}" height="{lane}" fill="#f7fafc" />')
    for (name, r_start, r_end), row in zip(ranges, range_rows, strict=True):
        y = top + row * (lane + gap)
        w = max(1.0, x(r_end) - x(r_start))
        parts.append(
            f'<rect x="{x(r_start):.1f}" y="{y}" width="{w:.1f}" height="{lane}" '
            f'fill="#e2e8f0" stroke="#718096"><title>{escape(name)}</title></rect>'
        )
        if w > 40:
            parts.append(
                f'<text x="{x(r_start) + 3:.1f}" y="{y + 13}" {FONT}>{escape(name[: int(w // 7)])}'
                "</text>"
            )
    for kind, stream, a_start, a_end, pageable in activities:
        colour = KIND_COLOURS.get(kind, "#718096")
        stroke = ' stroke="#c53030" stroke-width="2"' if pageable else ""
        w = max(0.8, x(a_end) - x(a_start))
        tip = f"{KIND_LABELS.get(kind, kind)}, stream {stream}: {(a_end - a_start):.0f} us"
        tip += ", pageable" if pageable else ""
        for row in (
            row_of["default stream" if stream == 7 else f"stream {stream}"],
            row_of.get(dict(ENGINE_LANES).get(kind, "")),
        ):
            if row is None:
                continue
            y = top + row * (lane + gap)
            parts.append(
                f'<rect x="{x(a_start):.1f}" y="{y + 2}" width="{w:.1f}" height="{lane - 4}" '
                f'fill="{colour}"{stroke}><title>{escape(tip)}</title></rect>'
            )
    axis_y = top + len(lanes) * (lane + gap) + 4
    for k in range(6):
        t = start + span * k / 5
        parts.append(
            f'<text x="{x(t):.1f}" y="{axis_y + 12}" {FONT} text-anchor="middle">'
            f"{(t - start) / 1e3:.2f}</text>"
        )
    parts.append(f'<text x="{left}" y="{axis_y + 30}" {FONT}>milliseconds from the first GPU')
    legend = ", ".join(f"{label} {c}" for label, c in [("blue", "H2D"), ("green", "kernel")])
    parts.append(f" activity. Colours: {legend}, orange D2H; red outline: pageable memory.</text>")
    parts.append("</svg>")
    return "\n".join(parts)


def _pack_rows(ranges: list) -> list[int]:
    """A row for every range, nested ranges one row lower than the range they sit in."""
    rows, ends = [], []
    for _, start, end in ranges:
        row = 0
        while row < len(ends) and ends[row] > start:
            row += 1
        if row == len(ends):
            ends.append(end)
        else:
            ends[row] = end
        rows.append(row)
    return rows


LIBRARY = "#d69e2e"


@dataclass
class RooflinePoint:
    label: str
    intensity: float  # FLOP per byte
    flops_per_s: float
    colour: str


def roofline_chart(
    points: Sequence[RooflinePoint],
    peak_flops_per_s: float,
    bandwidth_bytes_per_s: float,
    title: str,
    peak_label: str,
    width: int = 720,
    height: int = 380,
) -> str:
    """Log-log roofline: min(peak, bandwidth x intensity), with each kernel at its intensity.

    Both roofs are measured in the same run (the peak is the library's best rate, the slope the
    device copy), so a point's height under the roof is its share of what this GPU did.
    """
    pts = [p for p in points if p.intensity > 0 and p.flops_per_s > 0]
    if not pts or not peak_flops_per_s > 0 or not bandwidth_bytes_per_s > 0:
        return ""
    left, right, top, bottom = 70, 20, 34, 46
    ridge = peak_flops_per_s / bandwidth_bytes_per_s
    x_lo = 10 ** math.floor(math.log10(min([p.intensity for p in pts] + [ridge]) / 4))
    x_hi = 10 ** math.ceil(math.log10(max([p.intensity for p in pts] + [ridge]) * 4))
    y_hi = 10 ** math.ceil(math.log10(peak_flops_per_s * 1.5))
    y_lo = 10 ** math.floor(math.log10(min(p.flops_per_s for p in pts) / 4))
    y_lo = min(y_lo, bandwidth_bytes_per_s * x_lo)
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(v: float) -> float:
        return left + plot_w * (math.log10(v) - math.log10(x_lo)) / math.log10(x_hi / x_lo)

    def y(v: float) -> float:
        return top + plot_h * (1 - (math.log10(v) - math.log10(y_lo)) / math.log10(y_hi / y_lo))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT}>',
        f'<text x="0" y="16" font-weight="600">{escape(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#cbd5e0"/>',
    ]
    decade = x_lo
    while decade <= x_hi * 1.001:
        out.append(
            f'<text x="{x(decade):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
            f"{decade:g}</text>"
        )
        decade *= 10
    decade = y_lo
    while decade <= y_hi * 1.001:
        out.append(
            f'<text x="{left - 6}" y="{y(decade) + 4:.1f}" text-anchor="end">'
            f"{_fmt(decade / 1e12)}</text>"
        )
        decade *= 10
    out.append(
        f'<text x="{left + plot_w / 2}" y="{height - 8}" text-anchor="middle">arithmetic '
        "intensity, FLOP per byte of the fewest bytes the product must move</text>"
    )
    out.append(
        f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2})">TFLOP/s</text>'
    )
    # The roof: the bandwidth slope up to the ridge point, then the flat compute peak.
    start = max(x_lo, y_lo / bandwidth_bytes_per_s)
    out.append(
        f'<polyline fill="none" stroke="{CEILING}" stroke-width="2" points="'
        f"{x(start):.1f},{y(bandwidth_bytes_per_s * start):.1f} "
        f'{x(ridge):.1f},{y(peak_flops_per_s):.1f} {x(x_hi):.1f},{y(peak_flops_per_s):.1f}"/>'
    )
    out.append(
        f'<text x="{x(x_hi) - 4:.1f}" y="{y(peak_flops_per_s) - 6:.1f}" text-anchor="end" '
        f'fill="{CEILING}">{escape(peak_label)}</text>'
    )
    out.append(
        f'<text x="{x(start) + 6:.1f}" y="{y(bandwidth_bytes_per_s * start) - 8:.1f}" '
        f'fill="{CEILING}">device copy {bandwidth_bytes_per_s / 1e12:.2f} TB/s</text>'
    )
    for i, p in enumerate(pts):
        px, py = x(p.intensity), y(p.flops_per_s)
        out.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="5" fill="{p.colour}"><title>'
            f"{escape(p.label)}: {p.flops_per_s / 1e12:.2f} TFLOP/s at {p.intensity:.0f} "
            f"FLOP/byte</title></circle>"
        )
        out.append(
            f'<text x="{px + 8:.1f}" y="{py + 4 + 12 * (i % 2):.1f}">{escape(p.label)} '
            f"{_fmt(p.flops_per_s / 1e12)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def line_chart(
    series: Sequence[tuple[str, Sequence[float], Sequence[float], str]],
    x_label: str,
    y_label: str,
    title: str,
    ceiling: float | None = None,
    ceiling_label: str = "",
    width: int = 720,
    height: int = 360,
) -> str:
    """Lines on linear axes, one per (label, xs, ys, colour), with a legend below the plot and
    an optional horizontal ceiling (the device copy, say). Points with y <= 0 are left out."""
    drawn = [
        (label, [(x, y) for x, y in zip(xs, ys, strict=False) if y > 0], colour)
        for label, xs, ys, colour in series
    ]
    drawn = [d for d in drawn if d[1]]
    if not drawn:
        return ""
    left, right, top = 70, 20, 34
    legend_h = 18 * len(drawn) + (18 if ceiling else 0)
    bottom = 46 + legend_h
    xs = [x for _, pts, _ in drawn for x, _ in pts]
    ys = [y for _, pts, _ in drawn for _, y in pts] + ([ceiling] if ceiling else [])
    x_lo, x_hi = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y_hi = max(ys) * 1.1
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(v: float) -> float:
        return left + plot_w * (v - x_lo) / (x_hi - x_lo)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_hi)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" {FONT}>',
        f'<text x="0" y="16" font-weight="600">{escape(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#cbd5e0"/>',
    ]
    for tick in sorted(set(xs)):
        out.append(
            f'<text x="{x(tick):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{tick:g}</text>'
        )
    for k in range(5):
        value = y_hi * k / 4
        out.append(
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{_fmt(value)}</text>'
        )
    out.append(
        f'<text x="{left + plot_w / 2}" y="{top + plot_h + 34}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    out.append(
        f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2})">{escape(y_label)}</text>'
    )
    legend_y = top + plot_h + 52
    if ceiling:
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(ceiling):.1f}" y2="{y(ceiling):.1f}" '
            f'stroke="{CEILING}" stroke-dasharray="6 4"/>'
        )
        out.append(
            f'<line x1="{left}" x2="{left + 24}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
            f'stroke="{CEILING}" stroke-dasharray="6 4"/>'
        )
        out.append(
            f'<text x="{left + 30}" y="{legend_y}">{escape(ceiling_label)} {_fmt(ceiling)}</text>'
        )
        legend_y += 18
    for label, pts, colour in drawn:
        path = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in pts)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        for px, py in pts:
            out.append(
                f'<circle cx="{x(px):.1f}" cy="{y(py):.1f}" r="3.5" fill="{colour}"><title>'
                f"{escape(label)}: {_fmt(py)} at {px:g}</title></circle>"
            )
        out.append(
            f'<line x1="{left}" x2="{left + 24}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        out.append(f'<text x="{left + 30}" y="{legend_y}">{escape(label)}</text>')
        legend_y += 18
    out.append("</svg>")
    return "\n".join(out)
