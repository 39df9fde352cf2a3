"""Badges: valid SVG, the value as text, the colour at each threshold; the CLI end to end."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ci_toolkit.output import badge
from tests.conftest import run_cli

SVG = "{http://www.w3.org/2000/svg}"


def fills_and_texts(svg: str) -> tuple[set[str], list[str]]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    fills = {e.get("fill", "").upper() for e in root.iter() if e.get("fill")}
    return fills, [e.text or "" for e in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("percent", "colour"),
    [(0.0, "red"), (49.9, "red"), (50.0, "orange"), (79.9, "orange"), (80.0, "yellow"),
     (89.9, "yellow"), (90.0, "green"), (100.0, "green")],
)  # fmt: skip
def test_coverage_colour_at_each_threshold(percent: float, colour: str) -> None:
    made = badge.coverage(percent)
    fills, texts = fills_and_texts(made.svg)
    assert made.colour == colour and badge.COLOURS[colour].upper() in fills
    assert f"{percent:.1f}%" in texts and "coverage" in texts


@pytest.mark.parametrize(
    ("count", "colour"), [(0, "green"), (1, "orange"), (2, "orange"), (3, "red"), (40, "red")]
)
def test_flaky_colour_by_count(count: int, colour: str) -> None:
    assert badge.flaky(count).colour == colour
    assert badge.COLOURS[colour].upper() in fills_and_texts(badge.flaky(count).svg)[0]


def test_tests_badge_says_passed_of_total_and_turns_red_on_any_failure() -> None:
    green = badge.tests({"passed": 10, "failed": 0, "errors": 0, "skipped": 3})
    assert (green.text, green.colour) == ("10/10 passed", "green")
    red = badge.tests({"passed": 9, "failed": 1, "errors": 1})
    assert (red.text, red.colour) == ("2 failed, 9 passed", "red")
    assert badge.tests(None).colour == badge.GREY == badge.coverage(None).colour


def test_badge_from_a_run_dir_through_the_cli(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({
        "status": "passed", "coverage_percent": 83.33, "flaky_tests": ["t::a"],
        "tests": {"passed": 5, "failed": 0, "errors": 0, "skipped": 0},
    }))  # fmt: skip
    out = tmp_path / "badges" / "coverage.svg"
    made = run_cli(["badge", "coverage", "--from", str(run), "--out", str(out), "--json"], tmp_path)
    assert made.returncode == 0, made.output
    assert json.loads(made.stdout) == {
        "written": str(out),
        "kind": "coverage",
        "text": "83.3%",
        "colour": "yellow",
    }
    assert "83.3%" in fills_and_texts(out.read_text())[1]
    flaky = run_cli(["badge", "flaky", "--from", str(run), "-o", str(tmp_path / "f.svg")], tmp_path)
    assert flaky.returncode == 0 and "flaky 1 (orange)" in flaky.stderr
    missing = run_cli(["badge", "tests", "--from", str(tmp_path), "-o", str(tmp_path / "t.svg")], tmp_path)
    assert missing.returncode == 2 and "no run.json here" in missing.stderr
