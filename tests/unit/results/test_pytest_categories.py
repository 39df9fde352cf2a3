"""Counts in pytest's own categories (passed, failed, errors, skipped, xfailed, xpassed, rerun),
equal to pytest's terminal line, from the plugin's record and from JUnit alone; a test that
passed only on a rerun is flaky. Real pytest runs with pytest-rerunfailures, plain and under xdist."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ci_toolkit.results.junit import read_junit
from ci_toolkit.results.model import RunResult, TestCounts
from ci_toolkit.results.progress import read_record
from tests.conftest import run_cli

SUITE = """
import os, pathlib, pytest

COUNTER = pathlib.Path(os.environ["FLAKY_COUNTER"])

def test_pass_one(): pass
def test_pass_two(): pass
def test_pass_three(): pass

def test_fails(): assert 1 == 2

def test_flaky():
    attempt = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(attempt + 1))
    assert attempt >= 1, "fails on its first attempt only"

@pytest.mark.xfail(reason="known bug")
def test_xfail(): assert False

@pytest.mark.xfail(reason="fixed meanwhile", strict=False)
def test_xpass(): pass

@pytest.mark.skip(reason="not here")
def test_skip(): pass

@pytest.fixture
def broken(): raise RuntimeError("setup breaks")

def test_setup_error(broken): pass
"""
FLAKY = "test_suite.py::test_flaky"
# pytest's words -> our field names
WORDS = {"passed": "passed", "failed": "failed", "error": "errors", "errors": "errors", "skipped": "skipped"}
WORDS |= {"xfailed": "xfailed", "xpassed": "xpassed", "rerun": "rerun"}


def _run(tmp_path: Path, *args: str) -> tuple[dict[str, int], Path, Path]:
    """Run the suite; pytest's own summary line as {field: n}, the JUnit file and the record."""
    (tmp_path / "test_suite.py").write_text(SUITE)
    record = tmp_path / "progress.tsv"
    env = {**os.environ, "FLAKY_COUNTER": str(tmp_path / "attempts"), "CI_TOOLKIT_PROGRESS": str(record)}
    env.pop("PYTEST_XDIST_WORKER", None)  # we may be an xdist worker ourselves
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "ci_toolkit.pytest_plugin"]
    cmd += ["-p", "rerunfailures", "--reruns", "1", "-q", "-o", "junit_family=xunit1"]
    cmd += [f"--junitxml={tmp_path / 'junit.xml'}", *args, "test_suite.py"]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    last = out.stdout.strip().splitlines()[-1]
    assert out.returncode == 1, out.stdout + out.stderr
    found = re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|rerun)\b", last)
    assert found, last
    return {WORDS[word]: int(n) for n, word in found}, tmp_path / "junit.xml", record


def _as_pytest_says(counts: TestCounts) -> dict[str, int]:
    return {k: v for k, v in counts.to_dict().items() if v}


@pytest.mark.parametrize("xdist", [False, True], ids=["plain", "xdist"])
def test_counts_equal_pytest_terminal_line(tmp_path: Path, xdist: bool) -> None:
    said, junit, record = _run(tmp_path, *(["-n", "2"] if xdist else []))
    # Whatever this rerunfailures version reruns (setup errors too, since 15), the line says it.
    assert said["xfailed"] == 1 and said["xpassed"] == 1 and said["rerun"] >= 2, said

    from_record = read_junit(junit, tmp_path, record=record)
    from_junit = read_junit(junit, tmp_path)
    assert _as_pytest_says(from_record) == said
    assert _as_pytest_says(from_junit) == said
    for counts in (from_record, from_junit):
        assert counts.flaky == (FLAKY,)
        assert {f.id for f in counts.failures} == {
            "test_suite.py::test_fails",
            "test_suite.py::test_setup_error",
        }
        assert counts.total == 9  # tests, not attempts: 9 tests in the suite


def test_record_alone_without_junit(tmp_path: Path) -> None:
    """pytest died before writing JUnit: the record still has pytest's categories."""
    said, _, record = _run(tmp_path)
    counts = read_record(record)
    assert counts is not None and _as_pytest_says(counts) == said and counts.flaky == (FLAKY,)


def test_run_json_and_summary_line(tmp_path: Path) -> None:
    said, junit, record = _run(tmp_path)
    counts = read_junit(junit, tmp_path, record=record)
    data = RunResult("tests_failed", 1, "p", tests=counts).to_dict()
    assert data["tests"] == {
        "passed": said["passed"], "failed": 1, "errors": 1, "skipped": 1,
        "xfailed": 1, "xpassed": 1, "rerun": said["rerun"],
    }  # fmt: skip
    assert data["flaky_tests"] == [FLAKY]
    assert counts.describe() == (
        f"{said['passed']} passed, 1 failed, 1 errors, 1 skipped, 1 xfailed, 1 xpassed, {said['rerun']} rerun"
    )


def test_plain_suite_reads_as_before() -> None:
    """No xfail, xpass or rerun: the same four counts every summary has shown, and zeros in JSON."""
    counts = TestCounts(passed=5, failed=1, skipped=1)
    assert counts.describe() == "5 passed, 1 failed, 0 errors, 1 skipped"
    assert counts.to_dict() == {
        "passed": 5, "failed": 1, "errors": 0, "skipped": 1, "xfailed": 0, "xpassed": 0, "rerun": 0,
    }  # fmt: skip
    assert RunResult("tests_failed", 1, None, tests=counts).to_dict()["flaky_tests"] == []


def test_old_run_json_reads_with_zeros() -> None:
    """run.json from before these categories (report merge over old artifacts)."""
    old = TestCounts.from_dict({"passed": 3, "failed": 0, "errors": 0, "skipped": 2})
    assert (old.passed, old.skipped, old.xfailed, old.rerun, old.flaky) == (3, 2, 0, 0, ())


def test_teardown_error_after_a_pass_counts_both(tmp_path: Path) -> None:
    """pytest says "1 passed, 1 error" for a test whose teardown fails; so do we, from either source."""
    (tmp_path / "test_suite.py").write_text(
        "import pytest\n"
        "@pytest.fixture\n"
        "def leaky():\n    yield\n    raise RuntimeError('teardown breaks')\n"
        "def test_it(leaky): pass\n"
    )
    record = tmp_path / "progress.tsv"
    env = {**os.environ, "CI_TOOLKIT_PROGRESS": str(record)}
    env.pop("PYTEST_XDIST_WORKER", None)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "ci_toolkit.pytest_plugin", "-q"]
    cmd += ["-o", "junit_family=xunit1", "--junitxml=junit.xml", "test_suite.py"]
    out = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert "1 passed, 1 error" in out.stdout
    for counts in (
        read_junit(tmp_path / "junit.xml", tmp_path, record=record),
        read_junit(tmp_path / "junit.xml"),
    ):
        assert (counts.passed, counts.errors, counts.total) == (1, 1, 2)


def _cell(tmp_path: Path, name: str, shard: dict[str, object] | None = None) -> tuple[Path, dict[str, int]]:
    """A run dir as a matrix cell (or shard) uploads it: junit.xml, the record, run.json."""
    path = tmp_path / name
    path.mkdir()
    said, junit, record = _run(path)
    counts = read_junit(junit, path, record=record)
    data = RunResult("tests_failed", 1, name, tests=counts, shard=shard).to_dict()
    (path / "run.json").write_text(json.dumps(data))
    (path / "selection.json").write_text(json.dumps({"cell": {"name": name, "slug": name}}))
    return path, said


def test_report_merge_of_matrix_cells_sums_each_category_and_lists_flaky(tmp_path: Path) -> None:
    a, said = _cell(tmp_path, "pg15")
    b, _ = _cell(tmp_path, "pg17")
    result = run_cli(["report", "merge", str(a), str(b)], tmp_path)
    assert result.returncode == 1, result.output
    row = f"| {said['passed']} | 1 | 1 | 1 | 1 | 1 | {said['rerun']} |"
    assert (
        "| cell | result | passed | failed | errors | skipped | xfailed | xpassed | rerun | time |"
        in result.stdout
    )
    assert (
        f"| pg15 | ❌ tests_failed {row}" in result.stdout
        and f"| pg17 | ❌ tests_failed {row}" in result.stdout
    )
    assert "### Flaky tests (passed only on a rerun)" in result.stdout
    assert f"| `{FLAKY}` | pg15, pg17 |" in result.stdout
    cells = run_cli(["report", "merge", "--json", str(a), str(b)], tmp_path).json()["cells"]
    assert [c["flaky_tests"] for c in cells] == [[FLAKY], [FLAKY]]
    assert all({k: v for k, v in c["tests"].items() if v} == said for c in cells)


def test_report_merge_of_shards_counts_reruns_once_and_lists_flaky(tmp_path: Path) -> None:
    info = {"count": 2, "tests": 10, "collection": "c0ffee", "estimated_seconds": 1.0, "fail_under": None}
    one, said = _cell(tmp_path, "s1", {**info, "index": 1, "selected": 9})
    two = tmp_path / "s2"
    two.mkdir()
    (two / "junit.xml").write_text(
        '<testsuites><testsuite name="pytest"><testcase classname="test_other" name="test_more" '
        'file="test_other.py" line="1" /></testsuite></testsuites>'
    )
    other = TestCounts(passed=1)
    (two / "run.json").write_text(
        json.dumps(
            RunResult("passed", 0, "s2", tests=other, shard={**info, "index": 2, "selected": 1}).to_dict()
        )
    )
    for path in (one, two):
        (path / "selection.json").write_text(json.dumps({"shard": "x", "cell": None}))
    result = run_cli(
        ["report", "merge", "--json", str(one), str(two), "--into", str(tmp_path / "m")], tmp_path
    )
    (merged,) = result.json()["merged"]
    assert merged["tests"] == {
        "collected": 10, "ran": 10, "passed": said["passed"] + 1, "failed": 1, "errors": 1, "skipped": 1,
        "xfailed": 1, "xpassed": 1, "rerun": said["rerun"],
    }  # fmt: skip
    assert merged["flaky_tests"] == [FLAKY]
    text = run_cli(["report", "merge", str(one), str(two), "--into", str(tmp_path / "m2")], tmp_path).stdout
    assert "10 tests over 2 shards" in text
    assert (
        f"{said['passed'] + 1} passed, 1 failed, 1 errors, 1 skipped, 1 xfailed, 1 xpassed, "
        f"{said['rerun']} rerun" in text
    )
    assert "### Flaky tests (passed only on a rerun)" in text and f"- `{FLAKY}`" in text
    # the merged JUnit reads back the same
    again = read_junit(tmp_path / "m" / "junit.xml")
    assert (again.passed, again.xfailed, again.xpassed, again.rerun, again.flaky) == (
        said["passed"] + 1, 1, 1, said["rerun"], (FLAKY,),
    )  # fmt: skip


def test_soak_report_sums_categories_and_names_tests_passed_only_on_a_rerun() -> None:
    """Soak: flaky across iterations is kept as it was; a pass on a rerun is listed beside it."""
    from ci_toolkit.soak import report as soak_report

    def record(i: int, tests: dict[str, int], flaky: list[str]) -> dict[str, object]:
        return {"iteration": i, "status": "passed", "seconds": 1.0, "phases": {"test": 1.0}, "tests": tests,
                "failed_tests": [], "flaky_tests": flaky, "leaked": None, "disk": None}  # fmt: skip

    old = {"passed": 3, "failed": 0, "errors": 0, "skipped": 1}  # a record from before these keys
    new = {**old, "xfailed": 1, "xpassed": 0, "rerun": 1}
    report = soak_report.summarize([record(1, old, []), record(2, new, [FLAKY]), record(3, new, [FLAKY])])
    assert report["tests"] == {
        "passed": 9,
        "failed": 0,
        "errors": 0,
        "skipped": 3,
        "xfailed": 2,
        "xpassed": 0,
        "rerun": 2,
    }
    assert report["passed_on_rerun"] == {FLAKY: [2, 3]}
    assert report["flaky_tests"] == []  # it never failed an iteration
    text = soak_report.render_markdown(report)
    assert f"- `{FLAKY}` passed only on a rerun in iterations 2, 3" in text
