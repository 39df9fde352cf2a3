"""The job summary's trend charts: Mermaid `xychart-beta`, which GitHub renders in Markdown.

Two charts over the recorded runs, oldest left: phase times (one line per phase that took time),
and pass rate with coverage (percent). Mermaid's syntax: `x-axis [a, b]`, `y-axis "title" lo -->
hi`, `line [1, 2]` per series (a chart has no legend: the phases' order is written above it).
"""

from __future__ import annotations

from ci_toolkit.history.queries import Trend

MAX_POINTS = 30  # beyond this the labels overlap on GitHub's page width


def mermaid(trend: Trend) -> str:
    points = trend.points[-MAX_POINTS:]
    if not points:
        return "### Trend\n\nNo recorded runs yet: the chart appears once the store holds a run.\n"
    labels = ", ".join(_label(p.label) for p in points)
    phases = [p for p in trend.phase_names if any(pt.phases.get(p, 0) > 0 for pt in points)]
    top = max((pt.phases.get(p, 0.0) for pt in points for p in phases), default=1.0)
    lines = [
        f"### Trend over the last {len(points)} runs",
        "",
        f"Phase times in seconds, one line per phase: {', '.join(phases) or 'none recorded'}.",
        "",
        "```mermaid",
        "xychart-beta",
        '    title "Phase times (s)"',
        f"    x-axis [{labels}]",
        f'    y-axis "seconds" 0 --> {_number(top * 1.1 or 1.0)}',
    ]
    lines += [f"    line [{', '.join(_number(pt.phases.get(p, 0.0)) for pt in points)}]" for p in phases]
    lines += ["```", "", "Pass rate (first line) and coverage (second line), in percent.", ""]
    lines += [
        "```mermaid",
        "xychart-beta",
        '    title "Pass rate and coverage (%)"',
        f"    x-axis [{labels}]",
        '    y-axis "percent" 0 --> 100',
        f"    line [{', '.join(_percent(_rate(p.pass_rate)) for p in points)}]",
    ]
    if any(p.coverage_percent is not None for p in points):
        lines.append(f"    line [{', '.join(_percent(p.coverage_percent) for p in points)}]")
    lines.append("```")
    return "\n".join(lines) + "\n"


def _label(text: str) -> str:
    return '"' + text.replace('"', "'").replace("\n", " ")[:12] + '"'


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _percent(value: float | None) -> str:
    return "0" if value is None else f"{value:.1f}".rstrip("0").rstrip(".")


def _rate(fraction: float | None) -> float | None:
    return None if fraction is None else fraction * 100
