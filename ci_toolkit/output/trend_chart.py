"""The job summary's trend charts: Mermaid `xychart-beta`, which GitHub renders in Markdown.

Two charts over the recorded runs, oldest left: phase times (one line per phase that took time),
and pass rate with coverage (percent). Mermaid's syntax: `x-axis [a, b]`, `y-axis "title" lo -->
hi`, `line [1, 2]` per series (a chart has no legend: the phases' order is written above it).

The x-axis is categorical (a d3 band scale): equal labels collapse into one band and their
points onto one x, so a commit run twice is labelled "abc1234", "abc1234 #2". A series has no
gaps in this syntax (numbers only), so a run without a pass rate or coverage is drawn at 0, and
the sentence above the chart says so.
"""

from __future__ import annotations

from collections.abc import Iterable

from ci_toolkit.history.queries import Trend

MAX_POINTS = 30  # beyond this the labels overlap on GitHub's page width


def mermaid(trend: Trend) -> str:
    points = trend.points[-MAX_POINTS:]
    if not points:
        return "### Trend\n\nNo recorded runs yet: the chart appears once the store holds a run.\n"
    labels = ", ".join(f'"{text}"' for text in _unique(_clean(p.label) for p in points))
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
    shown_coverage = any(p.coverage_percent is not None for p in points)
    missing = any(p.pass_rate is None or (shown_coverage and p.coverage_percent is None) for p in points)
    legend = (
        "Pass rate (first line) and coverage (second line), in percent"
        if shown_coverage
        else "Pass rate in percent (no run measured coverage)"
    )
    legend += "; a run without a value is drawn at 0." if missing else "."
    lines += ["```", "", legend, ""]
    lines += [
        "```mermaid",
        "xychart-beta",
        '    title "Pass rate and coverage (%)"',
        f"    x-axis [{labels}]",
        '    y-axis "percent" 0 --> 100',
        f"    line [{', '.join(_percent(_rate(p.pass_rate)) for p in points)}]",
    ]
    if shown_coverage:
        lines.append(f"    line [{', '.join(_percent(p.coverage_percent) for p in points)}]")
    lines.append("```")
    return "\n".join(lines) + "\n"


def _unique(labels: Iterable[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} #{seen[label]}")
    return unique


def _clean(text: str) -> str:
    # Mermaid's strings have no escape for a quote; cut first, so a " #2" suffix survives.
    return text.replace('"', "'").replace("\n", " ")[:12]


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _percent(value: float | None) -> str:
    return "0" if value is None else f"{value:.1f}".rstrip("0").rstrip(".")


def _rate(fraction: float | None) -> float | None:
    return None if fraction is None else fraction * 100
