"""Badges: valid SVG, the value as text, the colour at each threshold; the CLI end to end."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ci_toolkit.history.model import RunRecord, TestResult
from ci_toolkit.history.store import open_store
from ci_toolkit.output import badge
from tests.conftest import run_cli

SVG = "{http://www.w3.org/2000/svg}"


def value_box(svg: str) -> tuple[str, list[str]]:
    """The right half's fill (the value's box, the label's box is #555) and every text shown."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    boxes = [e.get("fill", "") for e in root.iter(f"{SVG}path")]
    assert len(boxes) == 3 and boxes[0] == "#555" and boxes[2].startswith("url("), boxes
    return boxes[1].upper(), [e.text or "" for e in root.iter(f"{SVG}text")]


@pytest.mark.parametrize(
    ("percent", "colour"),
    [(0.0, "red"), (49.9, "red"), (50.0, "orange"), (79.9, "orange"), (80.0, "yellow"),
     (89.9, "yellow"), (90.0, "green"), (100.0, "green")],
)  # fmt: skip
def test_coverage_colour_at_each_threshold(percent: float, colour: str) -> None:
    made = badge.coverage(percent)
    fill, texts = value_box(made.svg)
    assert made.colour == colour and fill == badge.COLOURS[colour].upper()
    assert f"{percent:.1f}%" in texts and "coverage" in texts


@pytest.mark.parametrize(
    ("count", "colour"), [(0, "green"), (1, "orange"), (2, "orange"), (3, "red"), (40, "red")]
)
def test_flaky_colour_by_count(count: int, colour: str) -> None:
    made = badge.flaky(count)
    assert made.colour == colour
    assert value_box(made.svg) == (badge.COLOURS[colour].upper(), ["flaky", "flaky", str(count), str(count)])


def test_tests_badge_says_passed_of_total_and_turns_red_on_any_failure() -> None:
    green = badge.tests({"passed": 10, "failed": 0, "errors": 0, "skipped": 3})
    assert (green.text, green.colour) == ("10/10 passed", "green")
    assert value_box(green.svg) == ("#4C1", ["tests", "tests", "10/10 passed", "10/10 passed"])
    red = badge.tests({"passed": 9, "failed": 1, "errors": 1})
    assert (red.text, red.colour) == ("2 failed, 9 passed", "red")
    assert value_box(red.svg)[0] == badge.COLOURS["red"].upper()
    only_skipped = badge.tests({"passed": 0, "skipped": 4})
    assert (only_skipped.text, only_skipped.colour) == ("no tests", badge.GREY)
    assert value_box(badge.coverage(None).svg) == ("#9F9F9F", ["coverage", "coverage", "unknown", "unknown"])


def test_the_same_value_gives_the_same_bytes_however_many_badges_a_process_made() -> None:
    # anybadge numbers its mask ids per process; a committed badge must not change for nothing.
    first = badge.coverage(91.0).svg
    badge.flaky(1), badge.tests({"passed": 1})
    assert badge.coverage(91.0).svg == first and 'id="ci_toolkit_coverage"' in first


def write_run(run: Path, **fields: object) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    (run / "run.json").write_text(json.dumps(fields))
    return run


def test_badge_from_a_run_dir_through_the_cli(tmp_path: Path) -> None:
    run = write_run(
        tmp_path / "run", status="passed", coverage_percent=83.33, flaky_tests=["t::a"],
        tests={"passed": 5, "failed": 0, "errors": 0, "skipped": 0},
    )  # fmt: skip
    out = tmp_path / "badges" / "coverage.svg"
    made = run_cli(["badge", "coverage", "--from", str(run), "--out", str(out), "--json"], tmp_path)
    assert made.returncode == 0, made.output
    assert json.loads(made.stdout) == {
        "written": str(out),
        "kind": "coverage",
        "text": "83.3%",
        "colour": "yellow",
        "known": True,
    }
    assert value_box(out.read_text()) == ("#DFB317", ["coverage", "coverage", "83.3%", "83.3%"])
    flaky = run_cli(["badge", "flaky", "--from", str(run), "-o", str(tmp_path / "f.svg")], tmp_path)
    assert flaky.returncode == 0 and f"{tmp_path / 'f.svg'}: flaky 1 (orange)" in flaky.stderr
    tests = run_cli(["badge", "tests", "--from", str(run), "-o", str(tmp_path / "t.svg")], tmp_path)
    assert tests.returncode == 0 and "tests 5/5 passed (green)" in tests.stderr
    missing = run_cli(["badge", "tests", "--from", str(tmp_path), "-o", str(tmp_path / "t.svg")], tmp_path)
    assert missing.returncode == 2 and "no run.json here" in missing.stderr


def test_a_run_without_coverage_gives_a_grey_unknown_badge_and_exit_0(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", status="passed", coverage_percent=None, tests={"passed": 1})
    out = tmp_path / "c.svg"
    made = run_cli(["badge", "coverage", "--from", str(run), "-o", str(out)], tmp_path)
    assert made.returncode == 0, made.output
    assert "coverage unknown (lightgrey) (no value recorded: a grey badge)" in made.stderr
    assert value_box(out.read_text())[1][2] == "unknown"


def test_badges_from_the_store_read_the_newest_run_and_the_flaky_query(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store"), tmp_path)
    for i, (outcome, coverage) in enumerate([("failed", 40.0), ("passed", 92.5), ("failed", 95.0)]):
        store.put(
            RunRecord(
                f"2026120{i}T000000.000Z-p", 1_764_547_200 + i, "passed", 0,
                {"passed": 3, "failed": int(outcome == "failed")}, coverage, {"test": 1.0},
                (TestResult("t::wobbly", outcome),), commit="c0ffee", branch="main",
            ),
            {},
        )  # fmt: skip
    args = ["--store", str(tmp_path / "store"), "--json"]
    seen = {}
    for kind in badge.KINDS:
        made = run_cli(["badge", kind, "-o", str(tmp_path / f"{kind}.svg"), *args], tmp_path)
        assert made.returncode == 0, made.output
        seen[kind] = (json.loads(made.stdout)["text"], json.loads(made.stdout)["colour"])
    assert seen == {
        "coverage": ("95.0%", "green"),
        "tests": ("1 failed, 3 passed", "red"),
        "flaky": ("1", "orange"),  # failed and passed on one commit
    }
    empty = run_cli(
        ["badge", "flaky", "-o", str(tmp_path / "e.svg"), "--store", str(tmp_path / "none")], tmp_path
    )
    assert empty.returncode == 0 and "flaky unknown (lightgrey)" in empty.stderr, empty.output


def shard_record(
    n: int, branch: str, url: str, shard: str, passed: int, failed: int, cov: float
) -> RunRecord:
    return RunRecord(
        f"20261202T0{n}0000.000Z-p-{n}", 1_796_169_600 + n * 3600, "passed" if not failed else "tests_failed",
        int(bool(failed)), {"passed": passed, "failed": failed}, cov, {"test": 1.0},
        commit=f"c{n}", branch=branch, run_url=url, shard=shard,
    )  # fmt: skip


def test_store_badges_pick_a_branch_and_count_every_shard_of_the_newest_run(tmp_path: Path) -> None:
    runs = "https://github.com/acme/shop/actions/runs/"
    store = open_store(str(tmp_path / "store"), tmp_path)
    for record in (
        shard_record(1, "main", runs + "10", "1/2", 4, 0, 61.0),
        shard_record(2, "main", runs + "10", "2/2", 5, 1, 64.0),
        shard_record(3, "dev", runs + "11", "1/1", 7, 0, 99.0),  # the newest record: another branch
    ):
        store.put(record, {})

    def made(kind: str, *args: str) -> tuple[str, str]:
        out = str(tmp_path / f"{kind}.svg")
        done = run_cli(
            ["badge", kind, "-o", out, "--store", str(tmp_path / "store"), "--json", *args], tmp_path
        )
        assert done.returncode == 0, done.output
        return json.loads(done.stdout)["text"], json.loads(done.stdout)["colour"]

    assert made("tests", "--branch", "main") == ("1 failed, 9 passed", "red")  # both shards, not one
    assert made("coverage", "--branch", "main") == ("64.0%", "orange")  # the shards' best: a lower bound
    assert made("tests") == ("7/7 passed", "green")  # every branch: dev's run is the newest
    assert made("tests", "--branch", "nope") == ("no tests", badge.GREY)
    both = run_cli(["badge", "tests", "--from", str(tmp_path), "--branch", "main", "-o",
                    str(tmp_path / "x.svg")], tmp_path)  # fmt: skip
    assert both.returncode == 2 and "--branch picks runs of the history store" in both.stderr, both.output
