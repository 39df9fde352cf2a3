"""`ci-toolkit history html OUT`: one static, self-contained page (no network, no script) with
the trend charts (phase times; pass rate and coverage) and the flaky and slowest tests.

The charts are inline SVG drawn by output/svg_chart.py, by hand on purpose: the page must open
offline (CI artifacts, air-gapped runners), and no kept Python library draws a self-contained
chart: pygal's page loads its tooltip JS from a CDN by default, matplotlib would be a heavy
dependency for two line charts. Every value from the runs (test ids, reasons, labels, the title)
goes through html.escape: a test id like `test_x[<script>]` is text on the page.
The ids `phase-chart`, `quality-chart`, `phases`, `flaky` and `slowest` are for the tests."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from ci_toolkit.history.queries import FlakyTest, SlowTest, Trend
from ci_toolkit.output.svg_chart import line_chart

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; font-size: 13px; }
th { background: #f2f2f2; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 12px; }
"""


def render(trend: Trend, flaky: Sequence[FlakyTest], slowest: Sequence[SlowTest], *, title: str) -> str:
    labels = [p.label for p in trend.points]
    rate = "n/a" if trend.pass_rate is None else f"{trend.pass_rate:.1%}"
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p>{len(trend.points)} runs, {trend.runs_passed} passed; tests passed: {rate}"
        + (f"; coverage median {trend.coverage_median:.1f}%" if trend.coverage_median is not None else "")
        + "</p>",
    ]
    if trend.points:
        phases = [(name, [p.phases.get(name) for p in trend.points]) for name in trend.phase_names]
        body += [
            "<h2>Phase times</h2>",
            line_chart("phase-chart", "Phase times (s)", labels, phases, unit="s"),
        ]
        quality = [
            ("pass rate", [None if p.pass_rate is None else p.pass_rate * 100 for p in trend.points]),
            ("coverage", [p.coverage_percent for p in trend.points]),
        ]
        body += [
            "<h2>Pass rate and coverage</h2>",
            line_chart("quality-chart", "Percent", labels, quality, y_max=100, unit="%"),
        ]
        per_phase = [[n, f"{trend.phase_p50[n]:.3f}", f"{trend.phase_p95[n]:.3f}"] for n in trend.phase_names]
        body += ["<h2>Per phase</h2>", _table(["phase", "p50 s", "p95 s"], per_phase, "phases")]
    else:
        body.append("<p>No recorded runs yet.</p>")
    body.append("<h2>Flaky tests</h2>")
    body.append(
        _table(
            ["test", "failed", "passed", "reran", "why", "last seen"],
            [
                [f.id, str(f.failed), str(f.passed), str(f.reran), "; ".join(f.reasons), f.last_seen]
                for f in flaky
            ],
            "flaky",
        )
        if flaky
        else "<p>No flaky tests in these runs.</p>"
    )
    body.append("<h2>Slowest tests</h2>")
    body.append(
        _table(
            ["test", "median s", "p95 s", "max s", "runs"],
            [[s.id, f"{s.median:.3f}", f"{s.p95:.3f}", f"{s.max:.3f}", str(s.runs)] for s in slowest],
            "slowest",
        )
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], table_id: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)

    def cell(i: int, value: str) -> str:
        kind = "" if i == 0 or not value.replace(".", "", 1).isdigit() else ' class="num"'
        return f"<td{kind}>{'<code>' + escape(value) + '</code>' if i == 0 else escape(value)}</td>"

    lines = ["<tr>" + "".join(cell(i, v) for i, v in enumerate(row)) + "</tr>" for row in rows]
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(lines)}</tbody></table>'
