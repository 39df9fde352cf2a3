"""SVG badges (coverage, tests, flaky) with colour thresholds, made with anybadge.

Why anybadge (measured 2026-12 on this 2-core machine, each library in a scratch venv, one
coverage badge per call written to a file, median of 5 x 300):

    anybadge 1.16   2,895 badges/s   needs: packaging           first call 18 ms
    genbadge 1.1.3  1,439 badges/s   needs: Pillow, click, requests, setuptools
    pybadges 3.0.1  1,665 badges/s   needs: Jinja2, requests    first call 118 ms

All three are far above the 50/s the issue asks, so speed does not decide: anybadge is the one
without heavy dependencies (Pillow is a compiled wheel), and its SVG keeps each value as
<text> (escaped), which the tests parse. benchmarks/badges.py keeps the figure through this module.

Thresholds are upper bounds, as in anybadge ("value < bound" takes that colour), applied here so
the colour name is known to the caller: coverage red < 50 <= orange < 80 <= yellow < 90 <= green;
tests green when nothing failed, red when anything failed or errored, grey "no tests" when no
test reached a verdict; flaky green 0, orange 1 or 2, red 3 or more (a few flaky tests are a
warning, three are a habit). No value (no coverage measured, no runs): a grey "unknown" badge.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

COVERAGE = {50: "red", 80: "orange", 90: "yellow", 1_000: "green"}
FLAKY = {1: "green", 3: "orange", 1_000_000: "red"}
GREY = "lightgrey"
COLOURS = {"red": "#E05D44", "orange": "#FE7D37", "yellow": "#DFB317", "green": "#4C1", GREY: "#9F9F9F"}
KINDS = ("coverage", "tests", "flaky")


@dataclass(frozen=True)
class Badge:
    kind: str
    text: str  # what the badge says on its right half
    colour: str  # a name in COLOURS
    svg: str


def coverage(percent: float | None) -> Badge:
    if percent is None:
        return _make("coverage", "unknown", GREY)
    return _make("coverage", f"{percent:.1f}%", _by(COVERAGE, percent))


def tests(counts: Mapping[str, int] | None) -> Badge:
    counts = counts or {}
    passed = counts.get("passed", 0) + counts.get("xpassed", 0)
    broken = counts.get("failed", 0) + counts.get("errors", 0)
    total = passed + broken
    if not total:
        return _make("tests", "no tests", GREY)
    text = f"{passed}/{total} passed" if not broken else f"{broken} failed, {passed} passed"
    return _make("tests", text, "red" if broken else "green")


def flaky(count: int | None) -> Badge:
    if count is None:
        return _make("flaky", "unknown", GREY)
    return _make("flaky", str(count), _by(FLAKY, count))


def _by(thresholds: Mapping[int, str], value: float) -> str:
    return next((colour for bound, colour in sorted(thresholds.items()) if value < bound), "red")


def _make(kind: str, text: str, colour: str) -> Badge:
    import anybadge  # lazy: `--help` imports no badge library

    made = anybadge.Badge(kind, text, default_color=COLOURS[colour])
    # anybadge numbers its <mask> ids per process (anybadge_1, _2, ...); one id per kind keeps a
    # badge byte-identical for the same value, so a committed badge changes only when it should.
    made.mask_str = f"ci_toolkit_{kind}"
    return Badge(kind, text, colour, made.badge_svg_text)
