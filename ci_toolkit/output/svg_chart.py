"""A line chart as inline SVG: axes, one polyline per series, a legend. For `history html`.

Hand-written because the page must open offline and whole: pygal's charts load their tooltip JS
from a CDN by default, and a JS charting library would have to be inlined (hundreds of KB) for
two line charts. Values of None leave a gap (the line restarts after it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 900, 300, 60, 170, 20, 50


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    y_max: float | None = None,
    unit: str = "",
) -> str:
    values = [v for _, vs in series for v in vs if v is not None]
    top = y_max if y_max is not None else _nice(max(values, default=1.0) * 1.05 or 1.0)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels) - 1, 1)

    def x(i: int) -> float:
        return LEFT + i * step

    def y(v: float) -> float:
        return TOP + plot_h - (v / top) * plot_h

    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" xmlns="http://www.w3.org/2000/svg" '
        f'width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>',
    ]
    for k in range(5):  # horizontal grid and the y-axis's values
        value = top * k / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(value):.1f}" '
            f'y2="{y(value):.1f}" stroke="#e5e5e5"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11">'
            f"{value:.3g}{escape(unit)}</text>"
        )
    every = max(1, len(labels) // 10)
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle" font-size="10">'
                f"{escape(label)}</text>"
            )
    for n, (name, vs) in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        for run in _runs(vs):
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            if len(run) == 1:
                i, v = run[0]
                parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
            else:
                parts.append(
                    f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2.5" '
                    f'points="{points}"/>'
                )
        ly = TOP + 14 + n * 18
        parts.append(f'<rect x="{WIDTH - RIGHT + 12}" y="{ly - 9}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{WIDTH - RIGHT + 30}" y="{ly + 1}" font-size="12">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _nice(value: float) -> float:
    """The smallest 1, 2, 4, 6 or 8 x 10^k at or above `value`: its quarter ticks are round (1.5, 3)."""
    scale = 10.0 ** math.floor(math.log10(value))
    return next(m * scale for m in (1, 2, 4, 6, 8, 10) if m * scale >= value)


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    runs: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            runs.append([])
        else:
            runs[-1].append((i, v))
    return [r for r in runs if r]
