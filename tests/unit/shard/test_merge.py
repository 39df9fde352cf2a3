"""`report merge` over shards, without docker: the shards are real pytest runs (pytest_shard and
pytest-cov in a subprocess, as the test step runs them) with a run.json as the run writes it, or
hand-written JUnit where a case is clearer that way (failures, shards that do not fit together).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.results.junit import read_coverage, read_junit
from ci_toolkit.shard import ledger
from tests.conftest import CliResult, run_cli

CODE = """
def add(a, b):
    return a + b


def sign(x):
    if x < 0:
        return -1
    if x == 0:
        return 0
    return 1


def parse(text):
    try:
        return int(text)
    except ValueError:
        return None


def unused():
    return "no test calls this"
"""

TESTS = """
import pytest
from calc import add, parse, sign


def test_add():
    assert add(2, 3) == 5


@pytest.mark.parametrize("x, want", [(-5, -1), (0, 0), (7, 1)])
def test_sign(x, want):
    assert sign(x) == want


class TestParse:
    def test_number(self):
        assert parse("12") == 12

    def test_word(self):
        assert parse("twelve") is None

    def test_later(self):
        pytest.skip("not yet")
"""

TOTAL = 7  # tests in TESTS


def _pytest(project: Path, out: Path, shard: str | None) -> float:
    """One pytest run the way the test step starts it; its wall time."""
    out.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CI_TOOLKIT_", "PYTEST_", "COVERAGE_"))}
    env |= {
        "COVERAGE_FILE": str(out / "coverage.data"),
        "CI_TOOLKIT_PHASES": str(out / ledger.PHASES_FILE),
        "CI_TOOLKIT_COLLECTED": str(out / ledger.COLLECTED_FILE),
    }
    if shard:
        env |= {"CI_TOOLKIT_SHARD": shard, "CI_TOOLKIT_SHARD_REPORT": str(out / "shard.json")}
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "ci_toolkit.pytest_shard",
        "-p", "pytest_cov", "--cov=calc", f"--cov-report=xml:{out / 'coverage.xml'}",
        f"--junitxml={out / 'junit.xml'}", "-o", "junit_family=xunit1", "tests",
    ]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return time.monotonic() - started


def _run_json(out: Path, seconds: float, fail_under: float | None) -> None:
    """run.json as a shard's run writes it (`outcome._shard_info`), and its updated ledger."""
    kept = json.loads((out / "shard.json").read_text())
    index, count = map(int, kept["shard"].split("/"))
    counts = read_junit(out / "junit.xml")
    run = {
        "status": "passed",
        "exit_code": 0,
        "phases": [{"name": "test", "status": "ok", "seconds": round(seconds, 3)}],
        "tests": counts.to_dict(),
        "shard": {
            "index": index,
            "count": count,
            "tests": kept["tests"],
            "selected": kept["selected"],
            "collection": kept["collection"],
            "estimated_seconds": kept["estimated_seconds"],
            "fail_under": fail_under,
        },
    }
    (out / "run.json").write_text(json.dumps(run))
    (out / "selection.json").write_text(json.dumps({"shard": kept["shard"], "cell": None}))
    seen = ledger.read_phases(out / ledger.PHASES_FILE)
    ledger.save(
        ledger.Ledger().updated(seen, ledger.read_collected(out / ledger.COLLECTED_FILE)),
        out / "durations.json",
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project, its unsharded run (`whole/`) and its three shards (`shards/shard-K/`)."""
    root = tmp_path_factory.mktemp("merge")
    project = root / "project"
    (project / "calc").mkdir(parents=True)
    (project / "calc" / "__init__.py").write_text(CODE)
    (project / "tests").mkdir()
    (project / "tests" / "test_calc.py").write_text(TESTS)
    (project / "pytest.ini").write_text("[pytest]\n")
    _pytest(project, root / "whole", None)
    for k in (1, 2, 3):
        out = root / "shards" / f"shard-{k}"
        _run_json(out, _pytest(project, out, f"{k}/3"), fail_under=60)
    return root


@pytest.fixture
def case(built: Path, tmp_path: Path) -> Path:
    """A copy of the built runs to change freely; the project is where merges run (its source)."""
    shutil.copytree(built, tmp_path / "c", symlinks=True)
    return tmp_path / "c"


def merge(cwd: Path, *args: str, env: dict[str, str] | None = None) -> CliResult:
    return run_cli(["report", "merge", *args], cwd, env)


def _ids(junit: Path) -> list[str]:
    return [f"{c.get('classname')}::{c.get('name')}" for c in ET.parse(junit).getroot().iter("testcase")]


def test_three_shards_merge_into_what_the_unsharded_run_reports(case: Path) -> None:
    project, into = case / "project", case / "out"
    summary = case / "summary.md"
    durations = case / "cache" / "durations.json"
    result = merge(
        project, str(case / "shards"), "--into", str(into), "--durations", str(durations),
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    assert result.returncode == 0, result.output
    whole = read_junit(case / "whole" / "junit.xml")
    merged = read_junit(into / "junit.xml")
    assert merged == whole and merged.total == TOTAL
    assert _ids(into / "junit.xml") == _ids(case / "whole" / "junit.xml")  # in collection order, too
    suite = ET.parse(into / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == str(TOTAL) and suite.get("skipped") == "1"
    percent = read_coverage(into / "coverage.xml")
    assert percent is not None and percent == pytest.approx(
        read_coverage(case / "whole" / "coverage.xml"), abs=0.1
    )
    assert (into / "htmlcov" / "index.html").is_file() and (into / "coverage.data").is_file()
    for k in (1, 2, 3):  # `combine --keep`: the shards' own data stays
        assert (case / "shards" / f"shard-{k}" / "coverage.data").is_file()

    out = result.stdout
    assert f"## Shards: ✅ passed, {TOTAL} tests over 3 shards" in out
    assert f"6 passed, 0 failed, 0 errors, 1 skipped; {TOTAL} of {TOTAL} collected tests ran" in out
    assert f"coverage {percent:.1f}% (merged over 3 shards; pytest.fail_under = 60)" in out
    assert "balance " in out and "(slowest shard / mean)" in out
    for k, tests in ((1, 3), (2, 2), (3, 2)):  # split by count: nothing recorded before
        assert f"| {k}/3 | ✅ passed | {tests} |" in out
    details = out[out.index("<details>") : out.index("</details>")]
    shard_of = {
        line.split("|")[1].strip().strip("`"): line.split("|")[3].strip()
        for line in details.splitlines()
        if "::" in line
    }
    collected = ledger.read_collected(case / "whole" / ledger.COLLECTED_FILE)
    assert sorted(shard_of) == sorted(collected)  # every test, with the shard it ran in
    for k in (1, 2, 3):
        ran = ledger.read_collected(case / "shards" / f"shard-{k}" / ledger.PHASES_FILE)
        assert {line.split("\t")[2] for line in ran} == {t for t, s in shard_of.items() if s == f"{k}/3"}
    assert f"- JUnit: `{into / 'junit.xml'}`" in out
    assert f"- coverage: `{into / 'coverage.xml'}`, HTML `{into / 'htmlcov' / 'index.html'}`" in out
    assert f"- durations ledger: `{into / 'durations.json'}`, `{durations}`" in out
    assert summary.read_text().rstrip() == out.rstrip()  # the job summary is the same text

    expected = ledger.merge(ledger.load(case / "shards" / f"shard-{k}" / "durations.json") for k in (1, 2, 3))
    assert ledger.load(into / "durations.json") == expected == ledger.load(durations)
    assert sorted(expected.tests) == sorted(collected)


def test_json_is_one_object_with_every_test_and_shard(case: Path) -> None:
    result = merge(case / "project", str(case / "shards"), "--into", str(case / "out"), "--json")
    assert result.returncode == 0, result.output
    data = result.json()
    (run,) = data["merged"]
    assert data["exit_code"] == 0 and run["status"] == "passed"
    assert run["tests"] == {
        "collected": TOTAL,
        "ran": TOTAL,
        "passed": 6,
        "failed": 0,
        "errors": 0,
        "skipped": 1,
        "xfailed": 0,
        "xpassed": 0,
        "rerun": 0,
    }
    assert run["flaky_tests"] == []
    assert [s["shard"] for s in run["shards"]] == ["1/3", "2/3", "3/3"]
    assert all(s["wall_seconds"] > 0 for s in run["shards"]) and run["balance"] >= 1.0
    assert run["coverage"]["shards"] == 3 and run["coverage"]["fail_under"] == 60
    assert len(run["cases"]) == TOTAL and {c["shard"] for c in run["cases"]} == {"1/3", "2/3", "3/3"}
    assert run["files"]["junit"] == str(case / "out" / "junit.xml")


def test_fail_under_is_judged_on_the_merged_total_not_per_shard(case: Path) -> None:
    for k in (1, 2, 3):  # no shard judges it alone: the merged total is below 99
        path = case / "shards" / f"shard-{k}" / "run.json"
        run = json.loads(path.read_text())
        run["shard"]["fail_under"] = 99
        path.write_text(json.dumps(run))
    result = merge(case / "project", str(case / "shards"), "--into", str(case / "out"))
    percent = read_coverage(case / "out" / "coverage.xml")
    assert result.returncode == 1, result.output
    assert f"coverage {percent:.1f}% (merged over 3 shards) is below pytest.fail_under = 99" in result.stdout
    assert "❌ coverage_below_threshold" in result.stdout


def test_shards_without_coverage_data_merge_without_a_coverage_section(case: Path) -> None:
    for k in (1, 2, 3):
        for name in ("coverage.data", "coverage.xml"):
            (case / "shards" / f"shard-{k}" / name).unlink()
    result = merge(case / "project", str(case / "shards"), "--into", str(case / "out"))
    assert result.returncode == 0, result.output
    lines = result.stdout.splitlines()
    assert not [line for line in lines if line.startswith(("coverage ", "- coverage", "> coverage"))]
    assert not (case / "out" / "coverage.xml").exists()
    assert read_junit(case / "out" / "junit.xml").total == TOTAL


def test_a_second_merge_does_not_count_the_first_as_a_cell(case: Path) -> None:
    shards = case / "shards"
    first = merge(case / "project", str(shards), "--into", str(shards / "merged"))
    again = merge(case / "project", str(shards), "--into", str(shards / "merged"))
    assert first.returncode == again.returncode == 0, again.output
    assert again.stdout == first.stdout and "Integration matrix" not in again.stdout


# Hand-written shards: what a case needs, nothing else.


def _shard(
    path: Path,
    index: int,
    count: int,
    tests: dict[str, str],
    *,
    collection: str = "c0ffee",
    total: int | None = None,
    cell: dict[str, str] | None = None,
    status: str = "passed",
    seconds: float = 1.0,
) -> Path:
    """A shard's run dir: `tests` is name -> outcome (passed, failed, error, skipped)."""
    path.mkdir(parents=True)
    cases = []
    for name, outcome in tests.items():
        inner = {"passed": "", "failed": '<failure message="assert 1 == 2">long</failure>',
                 "error": '<error message="fixture broke">trace</error>',
                 "skipped": '<skipped message="later" />'}[outcome]  # fmt: skip
        where = 'classname="tests.test_x" file="tests/test_x.py" line="1"'
        cases.append(f'<testcase {where} name="{name}">{inner}</testcase>')
    (path / "junit.xml").write_text(
        f'<testsuites><testsuite name="pytest" tests="{len(tests)}">{"".join(cases)}</testsuite></testsuites>'
    )
    info: dict[str, Any] = {
        "index": index, "count": count, "tests": total, "selected": len(tests),
        "collection": collection, "estimated_seconds": seconds, "fail_under": None,
    }  # fmt: skip
    run = {"status": status, "message": "" if status == "passed" else "1 failed, 0 errors",
           "phases": [{"name": "test", "seconds": seconds}], "shard": info}  # fmt: skip
    (path / "run.json").write_text(json.dumps(run))
    (path / "selection.json").write_text(json.dumps({"shard": f"{index}/{count}", "cell": cell}))
    return path


def test_a_failed_test_is_listed_first_and_outside_the_collapsed_list(tmp_path: Path) -> None:
    _shard(tmp_path / "s1", 1, 2, {"test_a": "passed", "test_b": "failed"}, total=4, status="tests_failed")
    _shard(tmp_path / "s2", 2, 2, {"test_c": "skipped", "test_d": "error"}, total=4, status="tests_failed")
    result = merge(tmp_path, str(tmp_path / "s1"), str(tmp_path / "s2"), "--into", str(tmp_path / "m"))
    assert result.returncode == 1, result.output
    out = result.stdout
    assert "## Shards: ❌ tests_failed, 4 tests over 2 shards" in out
    assert "1 passed, 1 failed, 1 errors, 1 skipped; 4 of 4 collected tests ran" in out
    failed = out[out.index("### Failed tests") : out.index("<details>")]
    assert "| `tests/test_x.py::test_b` | ❌ failed | 1/2 | assert 1 == 2 |" in failed
    assert "| `tests/test_x.py::test_d` | 💥 error | 2/2 | fixture broke |" in failed
    listed = out[out.index("<details>") :].splitlines()
    rows = [line for line in listed if line.startswith("| `")]
    assert [r.split("`")[1].split("::")[1] for r in rows] == ["test_b", "test_d", "test_a", "test_c"]
    assert "balance 1.00 (slowest shard / mean; estimated 1.00)" in out
    assert read_junit(tmp_path / "m" / "junit.xml").total == 4


def _refused(tmp_path: Path, *dirs: Path) -> str:
    result = merge(tmp_path, *map(str, dirs), "--into", str(tmp_path / "m"))
    assert result.returncode == 2, result.output
    assert not (tmp_path / "m" / "junit.xml").exists()  # refused before anything was written
    return result.stderr


def test_a_missing_shard_is_named(tmp_path: Path) -> None:
    one = _shard(tmp_path / "a", 1, 3, {"t1": "passed"}, total=3)
    three = _shard(tmp_path / "b", 3, 3, {"t3": "passed"}, total=3)
    err = _refused(tmp_path, one, three)
    assert "shard 2/3 is missing" in err and str(one) in err and str(three) in err


def test_shards_of_different_splits_are_refused(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a", 1, 2, {"t1": "passed"})
    b = _shard(tmp_path / "b", 2, 3, {"t2": "passed"})
    err = _refused(tmp_path, a, b)
    assert (
        "the shards were split different ways" in err
        and f"2 shards in {a}" in err
        and f"3 shards in {b}" in err
    )


def test_one_shard_twice_is_refused(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a", 1, 2, {"t1": "passed"})
    again = _shard(tmp_path / "a-rerun", 1, 2, {"t1": "passed"})
    b = _shard(tmp_path / "b", 2, 2, {"t2": "passed"})
    err = _refused(tmp_path, a, again, b)
    assert f"shard 1/2 is there twice: {a}, {again}" in err


def test_shards_that_collected_different_tests_are_refused(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a", 1, 2, {"t1": "passed"}, collection="aaaa")
    b = _shard(tmp_path / "b", 2, 2, {"t2": "passed"}, collection="bbbb")
    err = _refused(tmp_path, a, b)
    assert "the shards collected different tests: rerun them from one commit and one durations ledger" in err
    assert f"shard 1/2 ({a}): aaaa" in err and f"shard 2/2 ({b}): bbbb" in err


def test_a_test_in_two_shards_is_refused(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a", 1, 2, {"t1": "passed", "both": "passed"})
    b = _shard(tmp_path / "b", 2, 2, {"both": "passed"})
    err = _refused(tmp_path, a, b)
    assert f"1 test ran in two shards: tests/test_x.py::both in shard 1/2 ({a}) and shard 2/2 ({b})" in err


def test_shards_split_by_different_ledgers_are_refused(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a", 1, 2, {"t1": "passed"}, total=3)  # t3 went to no shard
    b = _shard(tmp_path / "b", 2, 2, {"t2": "passed"}, total=3)
    err = _refused(tmp_path, a, b)
    assert "the shards split 3 tests into 2 (1/2: 1, 2/2: 1)" in err and "one durations ledger" in err


def test_into_a_shards_own_directory_is_refused(tmp_path: Path) -> None:
    a = _shard(tmp_path / "a", 1, 1, {"t1": "passed"})
    result = merge(tmp_path, str(a), "--into", str(a))
    assert result.returncode == 2 and f"--into {a}: that is shard 1/1 ({a})" in result.stderr
    assert (a / "junit.xml").is_file()


def test_shards_of_several_matrix_cells_merge_per_cell(tmp_path: Path) -> None:
    pg15 = {"name": "pg15", "slug": "pg15"}
    pg17 = {"name": "pg17", "slug": "pg17"}
    _shard(tmp_path / "in" / "a1", 1, 2, {"t1": "passed"}, cell=pg15)
    _shard(tmp_path / "in" / "a2", 2, 2, {"t2": "passed"}, cell=pg15)
    _shard(tmp_path / "in" / "b1", 1, 2, {"t1": "passed"}, cell=pg17)
    _shard(tmp_path / "in" / "b2", 2, 2, {"t2": "failed"}, cell=pg17, status="tests_failed")
    result = merge(tmp_path, str(tmp_path / "in"), "--into", str(tmp_path / "m"))
    assert result.returncode == 1, result.output
    out = result.stdout
    assert "## Integration matrix: 1 of 2 cells passed" in out
    assert "## Shards of pg15: ✅ passed, 2 tests over 2 shards" in out
    assert "## Shards of pg17: ❌ tests_failed, 2 tests over 2 shards" in out
    assert read_junit(tmp_path / "m" / "pg15" / "junit.xml").passed == 2
    assert read_junit(tmp_path / "m" / "pg17" / "junit.xml").failed == 1


def test_matrix_cells_without_shards_are_summed_up_as_before(tmp_path: Path) -> None:
    cell = tmp_path / "cell"
    cell.mkdir()
    (cell / "run.json").write_text(json.dumps({"status": "passed", "phases": [], "tests": {"passed": 1}}))
    (cell / "junit.xml").write_text('<testsuite><testcase classname="t" name="a" /></testsuite>')
    result = merge(tmp_path, str(cell))
    assert result.returncode == 0, result.output
    assert "## Integration matrix: 1 of 1 cells passed" in result.stdout
    assert not (tmp_path / "merged").exists()
