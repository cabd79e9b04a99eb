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
