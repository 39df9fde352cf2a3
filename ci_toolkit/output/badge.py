"""SVG badges (coverage, tests, flaky) with colour thresholds, made with anybadge.

anybadge is pure Python without dependencies (genbadge needs Pillow, pybadges Jinja2 and
requests); measured here (2 cores) it makes 5,360 badges/s as SVG text, ~100x the 50/s the issue
asks (benchmarks/badges.py keeps the figure with files written, as the CLI does).

Thresholds are upper bounds, as in anybadge ("value < bound" takes that colour), applied here so
the colour name is known to the caller: coverage red < 50 <= orange < 80 <= yellow < 90 <= green;
tests green when nothing failed, red when anything failed or errored; flaky green 0, orange 1 or 2,
red 3 or more. No value: a grey badge.
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
    if not counts:
        return _make("tests", "no tests", GREY)
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

    svg = anybadge.Badge(kind, text, default_color=COLOURS[colour]).badge_svg_text
    return Badge(kind, text, colour, svg)
