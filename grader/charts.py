"""Inline SVG charts for the HTML report: no JavaScript, no network, readable when printed.

Every label is placed from an estimate of its width (:func:`text_width`, DejaVu Sans's advance
widths: the widest of the fonts ``system-ui, sans-serif`` falls back to), so labels never run
into each other or out of the drawing. tests/test_report_browser.py checks that in Chromium.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

STUDENT = "#2b6cb0"
REFERENCE = "#a0aec0"
CEILING = "#c53030"
SIZE = 12  # px, every chart's font size
FONT = f'font-family="system-ui, sans-serif" font-size="{SIZE}"'
ASCENT, DESCENT = 0.95, 0.25  # of the font size, above and below the baseline (DejaVu Sans)
ROW = 20  # px between the baselines of stacked labels

# Advance widths in em, by character (DejaVu Sans, measured in Chromium); others: _WIDE.
_WIDTHS = {
    **dict.fromkeys("'ijl", 0.28),
    **dict.fromkeys("IJ", 0.3),
    **dict.fromkeys(" ,.", 0.32),
    **dict.fromkeys("/:;\\|", 0.34),
    **dict.fromkeys("f-", 0.36),
    **dict.fromkeys("r()[]t!", 0.4),
    **dict.fromkeys('"*_`', 0.5),
    **dict.fromkeys("s?cz", 0.53),
    **dict.fromkeys("oLeFkvxyP", 0.6),
    **dict.fromkeys("TYaESbdghnpqu0123456789${}", 0.64),
    **dict.fromkeys("KAVBRXZC", 0.7),
    **dict.fromkeys("UHNDG&OQ", 0.79),
    **dict.fromkeys("w#+<=>^~M", 0.86),
    **dict.fromkeys("%mW@", 1.0),
}
_WIDE = 0.8
BOLD = 1.12  # font-weight 600 is this much wider


def text_width(text: str, size: float = SIZE, bold: bool = False) -> float:
    """The width ``text`` takes in pixels, a little more than DejaVu Sans needs."""
    em = sum(_WIDTHS.get(ch, _WIDE) for ch in text)
    return em * size * (BOLD if bold else 1.0) * 1.03


def fit(text: str, room: float, bold: bool = False) -> str:
    """``text``, cut short with an ellipsis where it is wider than ``room`` pixels."""
    if text_width(text, bold=bold) <= room:
        return text
    while text and text_width(text + "…", bold=bold) > room:
        text = text[:-1]
    return text + "…" if text else ""


@dataclass
class _Box:
    left: float
    top: float
    right: float
    bottom: float

    def hits(self, other: _Box, margin: float = 1.0) -> bool:
        return (
            self.left < other.right + margin
            and other.left < self.right + margin
            and self.top < other.bottom + margin
            and other.top < self.bottom + margin
        )

    def inside(self, other: _Box) -> bool:
        return (
            self.left >= other.left
            and self.right <= other.right
            and self.top >= other.top
            and self.bottom <= other.bottom
        )


def _label_box(x: float, baseline: float, text: str, anchor: str = "start") -> _Box:
    w = text_width(text)
    left = {"start": x, "middle": x - w / 2, "end": x - w}[anchor]
    return _Box(left, baseline - ASCENT * SIZE, left + w, baseline + DESCENT * SIZE)


def _svg_open(width: float, height: float, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(title)}" {FONT}>',
        f'<text x="0" y="16" font-weight="600">{escape(fit(title, width, bold=True))}</text>',
    ]


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
    """Horizontal bars, grouped; optional vertical ceiling line (e.g. 100% of copy bandwidth).

    Each group's name has a row of its own above its bars; the bars' names sit in a column
    as wide as the widest of them, and the value after each bar fits inside the drawing."""
    bar_h, gap, top = 16, 10, 30
    bars_all = [b for _, bars in groups for b in bars]
    label_w = min(max([text_width(b.label) for b in bars_all] + [40.0]) + 16, width * 0.35)
    values = [f"{_fmt(b.value)} {unit}" if math.isfinite(b.value) else "" for b in bars_all]
    right_pad = max([text_width(v) for v in values] + [text_width("not measured")]) + 8
    plot_w = max(width - label_w - right_pad, 40.0)
    finite = [
        v
        for b in bars_all
        for v in (b.value, b.high if b.high is not None else b.value)
        if math.isfinite(v)
    ]
    vmax = max([*finite, ceiling or 0, 1e-12]) * 1.02

    def x(v: float) -> float:
        return label_w + plot_w * max(0.0, min(v, vmax)) / vmax

    named = sum(1 for name, _ in groups if name)
    body = len(bars_all) * (bar_h + 4) + named * ROW + len(groups) * gap
    height = top + body + (28 if ceiling else 6)
    out = _svg_open(width, height, title)
    y = top
    for group, bars in groups:
        if group:
            out.append(
                f'<text x="0" y="{y + 13}" font-weight="600">'
                f"{escape(fit(group, width, bold=True))}</text>"
            )
            y += ROW
        for bar in bars:
            label = fit(bar.label, label_w - 12)
            whole = f"<title>{escape(bar.label)}</title>" if label != bar.label else ""
            out.append(
                f'<text x="{label_w - 8:.1f}" y="{y + 12}" text-anchor="end">'
                f"{escape(label)}{whole}</text>"
            )
            if math.isfinite(bar.value):
                out.append(
                    f'<rect x="{label_w:.1f}" y="{y}" width="{x(bar.value) - label_w:.1f}" '
                    f'height="{bar_h}" fill="{bar.colour}"><title>{escape(bar.label)}: '
                    f"{_fmt(bar.value)} {escape(unit)} {escape(bar.note)}</title></rect>"
                )
                end = x(bar.value)
                if bar.low is not None and bar.high is not None:
                    mid = y + bar_h / 2
                    out.append(
                        f'<line x1="{x(bar.low):.1f}" x2="{x(bar.high):.1f}" y1="{mid}" '
                        f'y2="{mid}" stroke="#1a202c" stroke-width="1.5"/>'
                    )
                    end = max(end, x(bar.high))
                out.append(
                    f'<text x="{end + 4:.1f}" y="{y + 12}">{_fmt(bar.value)} {escape(unit)}</text>'
                )
            else:
                out.append(
                    f'<text x="{label_w + 4:.1f}" y="{y + 12}" fill="#718096">not measured</text>'
                )
            y += bar_h + 4
        y += gap
    if ceiling:
        cx = x(ceiling)
        out.append(
            f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{top - 4}" y2="{y}" stroke="{CEILING}" '
            'stroke-dasharray="4 3"/>'
        )
        label = fit(ceiling_label, width)
        half = text_width(label) / 2
        lx = min(max(cx, half + 1), width - half - 1)
        out.append(
            f'<text x="{lx:.1f}" y="{y + 14}" text-anchor="middle" fill="{CEILING}">'
            f"{escape(label)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _ticks(lo: float, hi: float, count: int) -> list[tuple[float, str]]:
    """``count`` evenly spaced ticks from lo to hi, with as many decimals as keeps them apart."""
    step = (hi - lo) / (count - 1)
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    return [(lo + step * k, f"{lo + step * k:.{decimals}f}") for k in range(count)]


def strip_chart(
    series: Sequence[tuple[str, Sequence[float], str]], unit: str, title: str, width: int = 720
) -> str:
    """Every sample as a dot, one row per series, with its median and IQR as a box."""
    row_h, top = 26, 30
    finite = [v for _, samples, _ in series for v in samples if math.isfinite(v)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or max(hi, 1e-12) * 0.1
    lo, hi = (max(lo - 0.05 * span, 0.0) if lo >= 0 else lo - 0.05 * span), hi + 0.05 * span
    labels = [f"{label} (n={len(samples)})" for label, samples, _ in series]
    label_w = min(max(text_width(t) for t in labels) + 16, width * 0.35)
    ticks = _ticks(lo, hi, 5)
    widest = max(text_width(t) for _, t in ticks)
    label_w = max(label_w, widest / 2 + 2)
    right_pad = widest / 2 + 4
    plot_w = width - label_w - right_pad
    if widest > plot_w / 4 - 8:  # five ticks would touch: three, far apart
        ticks = _ticks(lo, hi, 3)

    def x(v: float) -> float:
        return label_w + plot_w * (v - lo) / (hi - lo)

    axis_y = top + row_h * len(series) + 4
    height = axis_y + 40
    out = _svg_open(width, height, title)
    for row, ((_, samples, colour), label) in enumerate(zip(series, labels, strict=True)):
        y = top + row * row_h
        mid = y + row_h / 2
        out.append(
            f'<text x="{label_w - 8:.1f}" y="{mid + 4}" text-anchor="end">'
            f"{escape(fit(label, label_w - 12))}</text>"
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
    out.append(
        f'<line x1="{label_w:.1f}" x2="{label_w + plot_w:.1f}" y1="{axis_y}" y2="{axis_y}" '
        'stroke="#4a5568"/>'
    )
    for v, text in ticks:
        out.append(f'<text x="{x(v):.1f}" y="{axis_y + 16}" text-anchor="middle">{text}</text>')
    out.append(
        f'<text x="{label_w + plot_w:.1f}" y="{axis_y + 33}" text-anchor="end">'
        f"{escape(unit)}</text>"
    )
    out.append("</svg>")
    return "\n".join(out)


KIND_COLOURS = {"h2d": "#3182ce", "kernel": "#38a169", "d2h": "#dd6b20", "d2d": "#805ad5"}
KIND_LABELS = {"h2d": "copy in (H2D)", "kernel": "kernel", "d2h": "copy out (D2H)"}
ENGINE_LANES = (("h2d", "H2D engine"), ("kernel", "SMs"), ("d2h", "D2H engine"))


def timeline_chart(timeline: dict, title: str, width: int = 900) -> str:
    """One lane per stream, then one per engine, the host's named ranges above; time in ms.

    ``timeline``: ``{"span_us", "activities": [[kind, stream, start, end, pageable]],
    "ranges": [[name, start, end]], "streams": [...]}`` (see grader.kinds.pipeline.timeline).
    Pageable copies are drawn with a red outline, the legacy default stream is named.
    """
    activities = timeline.get("activities") or []
    if not activities:
        return ""
    ranges = timeline.get("ranges") or []
    start = min([a[2] for a in activities] + [r[1] for r in ranges])
    end = max([a[3] for a in activities] + [r[2] for r in ranges])
    span = max(end - start, 1e-9)
    lane, gap = 18, 4
    range_rows = _pack_rows(ranges)
    streams = list(timeline.get("streams") or sorted({a[1] for a in activities}))
    lanes = [(f"range {i + 1}", "range") for i in range(max(range_rows, default=-1) + 1)]
    lanes += [("default stream" if s == 7 else f"stream {s}", s) for s in streams]
    lanes += [(label, kind) for kind, label in ENGINE_LANES]
    ticks = [(start + span * k / 5, f"{span * k / 5 / 1e3:.2f}") for k in range(6)]
    widest_tick = max(text_width(t) for _, t in ticks)
    left = max(max(text_width(name) for name, _ in lanes) + 12, widest_tick / 2 + 2)
    right = widest_tick / 2 + 4
    top = 28
    axis_y = top + len(lanes) * (lane + gap) + 4
    height = axis_y + 62
    plot = width - left - right

    def x(t: float) -> float:
        return left + (t - start) / span * plot

    parts = _svg_open(width, height, title)
    row_of = {name: i for i, (name, _) in enumerate(lanes)}
    for i, (name, _) in enumerate(lanes):
        y = top + i * (lane + gap)
        parts.append(f'<text x="{left - 6:.1f}" y="{y + 13}" text-anchor="end">{name}</text>')
        parts.append(
            f'<rect x="{left:.1f}" y="{y}" width="{plot:.1f}" height="{lane}" fill="#f7fafc" />'
        )
    for (name, r_start, r_end), row in zip(ranges, range_rows, strict=True):
        y = top + row * (lane + gap)
        w = max(1.0, x(r_end) - x(r_start))
        parts.append(
            f'<rect x="{x(r_start):.1f}" y="{y}" width="{w:.1f}" height="{lane}" '
            f'fill="#e2e8f0" stroke="#718096"><title>{escape(name)}</title></rect>'
        )
        shown = fit(name, w - 6)
        if shown and shown != "…":
            parts.append(f'<text x="{x(r_start) + 3:.1f}" y="{y + 13}">{escape(shown)}</text>')
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
    for t, text in ticks:
        parts.append(f'<text x="{x(t):.1f}" y="{axis_y + 12}" text-anchor="middle">{text}</text>')
    parts.append(
        f'<text x="{left:.1f}" y="{axis_y + 30}">milliseconds from the first GPU activity</text>'
    )
    key = [(KIND_COLOURS[k], "", KIND_LABELS[k]) for k in ("h2d", "kernel", "d2h")]
    key.append(("#ffffff", ' stroke="#c53030" stroke-width="2"', "pageable memory"))
    kx, ky = left, axis_y + 40
    for colour, stroke, label in key:
        parts.append(
            f'<rect x="{kx:.1f}" y="{ky}" width="14" height="12" fill="{colour}"{stroke}/>'
        )
        parts.append(f'<text x="{kx + 19:.1f}" y="{ky + 11}">{label}</text>')
        kx += 19 + text_width(label) + 18
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


def _place(
    text: str, px: float, py: float, taken: list[_Box], area: _Box
) -> tuple[float, float, str, _Box]:
    """Where a point's label goes: beside the point if there is room, else the nearest free
    place above or below it on either side (the caller draws a leader line to it)."""
    best = None
    for step in range(0, 24):
        dy = (step + 1) // 2 * 14 * (1 if step % 2 else -1)
        for anchor, lx in (("start", px + 8), ("end", px - 8)):
            box = _label_box(lx, py + 4 + dy, text, anchor)
            clashes = sum(box.hits(other) for other in taken) + (0 if box.inside(area) else 99)
            if clashes == 0:
                return lx, py + 4 + dy, anchor, box
            if best is None or clashes < best[0]:
                best = (clashes, lx, py + 4 + dy, anchor, box)
    assert best is not None
    return best[1], best[2], best[3], best[4]


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
    device copy), so a point's height under the roof is its share of what this GPU did. Labels
    that would cover each other move up or down, with a thin line back to their point.
    """
    pts = [p for p in points if p.intensity > 0 and p.flops_per_s > 0]
    if not pts or not peak_flops_per_s > 0 or not bandwidth_bytes_per_s > 0:
        return ""
    ridge = peak_flops_per_s / bandwidth_bytes_per_s
    x_lo = 10 ** math.floor(math.log10(min([p.intensity for p in pts] + [ridge]) / 4))
    x_hi = 10 ** math.ceil(math.log10(max([p.intensity for p in pts] + [ridge]) * 4))
    y_hi = 10 ** math.ceil(math.log10(peak_flops_per_s * 1.5))
    y_lo = 10 ** math.floor(math.log10(min(p.flops_per_s for p in pts) / 4))
    y_lo = min(y_lo, 10 ** math.floor(math.log10(bandwidth_bytes_per_s * x_lo)))  # a decade
    y_ticks = []
    decade = y_lo
    while decade <= y_hi * 1.001:
        y_ticks.append((decade, _fmt(decade / 1e12)))
        decade *= 10
    x_ticks = []
    decade = x_lo
    while decade <= x_hi * 1.001:
        x_ticks.append((decade, f"{decade:g}"))
        decade *= 10
    left = max(text_width(t) for _, t in y_ticks) + 34
    right = max(text_width(x_ticks[-1][1]) / 2 + 4, 20)
    top, bottom = 34, 46
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(v: float) -> float:
        return left + plot_w * (math.log10(v) - math.log10(x_lo)) / math.log10(x_hi / x_lo)

    def y(v: float) -> float:
        return top + plot_h * (1 - (math.log10(v) - math.log10(y_lo)) / math.log10(y_hi / y_lo))

    out = _svg_open(width, height, title)
    out.append(
        f'<rect x="{left:.1f}" y="{top}" width="{plot_w:.1f}" height="{plot_h}" fill="none" '
        'stroke="#cbd5e0"/>'
    )
    for v, text in x_ticks:
        out.append(
            f'<text x="{x(v):.1f}" y="{top + plot_h + 20}" text-anchor="middle">{text}</text>'
        )
    for v, text in y_ticks:
        out.append(f'<text x="{left - 6:.1f}" y="{y(v) + 4:.1f}" text-anchor="end">{text}</text>')
    axis_title = "arithmetic intensity, FLOP per byte of the fewest bytes the product must move"
    out.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 8}" text-anchor="middle">'
        f"{escape(fit(axis_title, width))}</text>"
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
    area = _Box(left + 2, top + 2, left + plot_w - 2, top + plot_h - 2)
    taken = [_Box(x(p.intensity) - 6, y(p.flops_per_s) - 6, 0, 0) for p in pts]
    for box in taken:  # every point's dot: no label covers one
        box.right, box.bottom = box.left + 12, box.top + 12
    peak_x, peak_y = x(x_hi) - 4, y(peak_flops_per_s) - 6
    taken.append(_label_box(peak_x, peak_y, peak_label, "end"))
    out.append(
        f'<text x="{peak_x:.1f}" y="{peak_y:.1f}" text-anchor="end" '
        f'fill="{CEILING}">{escape(peak_label)}</text>'
    )
    copy_label = f"device copy {bandwidth_bytes_per_s / 1e12:.2f} TB/s"
    copy_x, copy_y = x(start) + 6, y(bandwidth_bytes_per_s * start) - 8
    taken.append(_label_box(copy_x, copy_y, copy_label))
    out.append(f'<text x="{copy_x:.1f}" y="{copy_y:.1f}" fill="{CEILING}">{copy_label}</text>')
    for p in reversed(pts):  # the first point (yours) drawn last, on top of any it covers
        px, py = x(p.intensity), y(p.flops_per_s)
        out.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="5" fill="{p.colour}"><title>'
            f"{escape(p.label)}: {p.flops_per_s / 1e12:.2f} TFLOP/s at {p.intensity:.0f} "
            f"FLOP/byte</title></circle>"
        )
    for p in pts:
        px, py = x(p.intensity), y(p.flops_per_s)
        text = f"{p.label} {_fmt(p.flops_per_s / 1e12)}"
        lx, ly, anchor, box = _place(text, px, py, taken, area)
        taken.append(box)
        if abs(ly - (py + 4)) > 1:  # moved off its point: a leader line back to it
            edge = box.left if anchor == "start" else box.right
            out.append(
                f'<line x1="{px:.1f}" y1="{py:.1f}" x2="{edge:.1f}" y2="{ly - 4:.1f}" '
                f'stroke="{p.colour}" stroke-width="1"/>'
            )
        out.append(f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}">{escape(text)}</text>')
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
    top = 34
    legend_h = 18 * len(drawn) + (18 if ceiling else 0)
    bottom = 50 + legend_h
    xs = [x for _, pts, _ in drawn for x, _ in pts]
    ys = [y for _, pts, _ in drawn for _, y in pts] + ([ceiling] if ceiling else [])
    x_lo, x_hi = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    # A sweep over sizes that double (1, 2, 4 ... 4096) is drawn on a log axis, where its
    # points are evenly spread rather than piled up at the left.
    log_x = x_lo > 0 and x_hi / x_lo >= 32
    y_hi = max(ys) * 1.1
    y_ticks = [(y_hi * k / 4, "0" if k == 0 else _fmt(y_hi * k / 4)) for k in range(5)]
    left = max(text_width(t) for _, t in y_ticks) + 34
    right = max(text_width(f"{max(xs):g}") / 2 + 4, 20)
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(v: float) -> float:
        if log_x:
            return left + plot_w * math.log(v / x_lo) / math.log(x_hi / x_lo)
        return left + plot_w * (v - x_lo) / (x_hi - x_lo)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_hi)

    out = _svg_open(width, height, title)
    out.append(
        f'<rect x="{left:.1f}" y="{top}" width="{plot_w:.1f}" height="{plot_h}" fill="none" '
        'stroke="#cbd5e0"/>'
    )
    ticks: list[tuple[float, str]] = []  # every point's x, less those that would touch
    for tick in sorted(set(xs)):
        text = f"{tick:g}"
        if (
            ticks
            and x(tick) - text_width(text) / 2 < x(ticks[-1][0]) + text_width(ticks[-1][1]) / 2 + 6
        ):
            if tick != max(xs):
                continue
            ticks.pop()  # the last point's label wins over the one before it
        ticks.append((tick, text))
    for tick, text in ticks:
        out.append(
            f'<text x="{x(tick):.1f}" y="{top + plot_h + 20}" text-anchor="middle">{text}</text>'
        )
    for value, text in y_ticks:
        out.append(
            f'<text x="{left - 6:.1f}" y="{y(value) + 4:.1f}" text-anchor="end">{text}</text>'
        )
    out.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{top + plot_h + 38}" text-anchor="middle">'
        f"{escape(fit(x_label + (' (log scale)' if log_x else ''), width))}</text>"
    )
    out.append(
        f'<text x="14" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + plot_h / 2})">{escape(y_label)}</text>'
    )
    legend_y = top + plot_h + 56
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
