"""`report issue`'s title and body, from run dirs a real pytest run filled: its JUnit XML (a
failing test, one that passed only on a rerun with pytest-rerunfailures) and the run.json
ci-toolkit writes for it (`RunResult.to_dict`). No docker: tests/integration/test_report_issue.py
does the same over a real `integration-run` of the bundled example."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from ci_toolkit.history.queries import FlakyTest
from ci_toolkit.output import cell_report
from ci_toolkit.output import issue_report as report
from ci_toolkit.redact import REDACTOR
from ci_toolkit.results.junit import read_junit
from ci_toolkit.results.model import RunResult

SECRET = "sk_live_4f9a8b7c6d5e4f3a"
FAILING = "tests/test_orders.py::test_order_total"
FLAKY = "tests/test_orders.py::test_cache_warms_up"

TESTS = f"""
import pathlib
import pytest

def test_order_is_stored():
    assert True

def test_order_total():
    total = 2
    assert total == 3, "total was wrong (api key {SECRET}, db postgresql://app:pw-in-url-77@db/app)"

@pytest.mark.flaky(reruns=1)
def test_cache_warms_up(tmp_path_factory):
    seen = pathlib.Path(__file__).with_name("warmed")
    if not seen.exists():
        seen.write_text("1")
        raise AssertionError("cold cache")
"""


def failed_run(tmp_path: Path, name: str = "run", selection: dict[str, object] | None = None) -> Path:
    """A run dir as `integration-run` leaves it after the tests failed: junit.xml from a real
    pytest run, run.json from ci-toolkit's own result model, selection.json when a cell was chosen."""
    project = tmp_path / f"{name}-project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_orders.py").write_text(textwrap.dedent(TESTS))
    run_dir = tmp_path / name
    run_dir.mkdir()
    junit = run_dir / "junit.xml"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={junit}",
         "-o", "junit_family=xunit1", "tests"],
        cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    counts = read_junit(junit, project)
    result = RunResult(
        "tests_failed", 1, f"citk-{name}-1a2b3c4d", tests=counts, message="1 failed, 0 errors",
        artifacts_dir=str(run_dir),
    )  # fmt: skip
    (run_dir / "run.json").write_text(json.dumps(result.to_dict()))
    if selection is not None:
        (run_dir / "selection.json").write_text(json.dumps(selection))
    return run_dir


def cells_of(path: Path) -> list[cell_report.CellResult]:
    return [cell_report.load_cell(d) for d in cell_report.find_cells([path])]


def test_the_title_is_the_same_for_every_run_of_a_workflow_and_branch(tmp_path: Path) -> None:
    first = report.Where("matrix", "main", "https://github.com/o/r/actions/runs/111", "a" * 40)
    later = report.Where("matrix", "main", "https://github.com/o/r/actions/runs/222", "b" * 40)
    assert report.title(first) == report.title(later) == "ci-toolkit: matrix failing on main"
    assert report.title(report.Where("matrix", "release/2.x")) != report.title(first)
    assert report.title(report.Where("soak", "main")) != report.title(first)
    run = cells_of(failed_run(tmp_path))
    bodies = [report.body(run, w, cwd=tmp_path) for w in (first, later)]
    assert all(b.startswith(report.marker(first) + "\n") for b in bodies)
    assert report.marker(first) == "<!-- ci-toolkit:issue workflow=matrix branch=main -->"


def test_the_body_names_the_failing_test_its_first_error_line_and_the_flaky_one(tmp_path: Path) -> None:
    where = report.Where("nightly", "main", "https://github.com/o/r/actions/runs/42", "0123456789abcdef")
    text = report.body(cells_of(failed_run(tmp_path)), where, cwd=tmp_path)
    assert "**tests_failed**: 1 failed, 0 errors" in text
    assert "Tests: 2 passed, 1 failed, 0 errors, 0 skipped, 1 rerun" in text
    failing = next(line for line in text.splitlines() if FAILING in line)
    assert failing.startswith(f"- `{FAILING}`: `AssertionError: total was wrong")
    assert "assert 2 == 3" not in text  # the first error line only
    assert f"- `{FLAKY}`: passed only on a rerun in this run" in text
    assert "failed on `main` at `0123456789ab`." in text
    assert (
        "```sh\nci-toolkit integration-run\n```\n\nThe failing job's summary has it with the environment"
        in text
    )
    assert "- the run: https://github.com/o/r/actions/runs/42\n" in text
    assert "- its artifacts: https://github.com/o/r/actions/runs/42#artifacts\n" in text


def test_secrets_never_reach_the_body(tmp_path: Path) -> None:
    REDACTOR.add(SECRET)  # a [secrets] value of the run (the autouse fixture restores the redactor)
    text = report.body(cells_of(failed_run(tmp_path)), report.Where("nightly", "main"), cwd=tmp_path)
    assert SECRET not in text and "pw-in-url-77" not in text
    assert "api key ***" in text and "postgresql://app:***@db/app" in text


def test_matrix_cells_each_name_their_failures_and_their_own_reproduce_command(tmp_path: Path) -> None:
    cells = tmp_path / "cells"
    entry = {"POSTGRES_IMAGE": "postgres:17", "suite": "full", "name": "postgres:17 full"}
    pretty = json.dumps(entry, indent=2)  # as `toJSON(matrix)` hands it over: over several lines
    failed_run(cells, "matrix-pg17", {"suite": None, "matrix_entry": pretty, "workers": "2", "services": [],
                                      "cell": entry, "project": "citk-pg17"})  # fmt: skip
    failed_run(cells, "matrix-pg15", {"suite": "smoke", "matrix_entry": None, "shard": "2/3",
                                      "services": ["postgres"], "cell": {"name": "pg15 smoke"}})  # fmt: skip
    found = cells_of(cells)
    text = report.body(found, report.Where("matrix", "main"), cwd=tmp_path)
    assert "2 of 2 runs failed:" in text and "| postgres:17 full | tests_failed | 1 |" in text
    assert f"- `{FAILING}` (pg15 smoke, postgres:17 full): `AssertionError" in text
    compact = json.dumps(entry, separators=(",", ":"))
    assert f"ci-toolkit integration-run --matrix-entry '{compact}' --workers 2\n" in text
    assert "ci-toolkit integration-run --suite smoke --shard 2/3 --service postgres\n" in text
    assert text.count(FLAKY) == 1  # once, naming both cells' reruns as one test


def test_a_run_that_wrote_no_results_is_still_reported(tmp_path: Path) -> None:
    text = report.body([], report.Where("matrix", "main", "https://github.com/o/r/actions/runs/9"))
    assert "failed before any run wrote results" in text
    assert "https://github.com/o/r/actions/runs/9#artifacts" in text
    assert "Reproduce" not in text


def test_a_cell_that_failed_outside_the_tests_says_why(tmp_path: Path) -> None:
    broken = tmp_path / "cells" / "matrix-pg18"
    broken.mkdir(parents=True)
    result = RunResult("infra_error", 4, "citk-pg18", message="service postgres never became ready\n  logs…")
    (broken / "run.json").write_text(json.dumps(result.to_dict()))
    failed_run(tmp_path / "cells", "matrix-pg17")
    text = report.body(cells_of(tmp_path / "cells"), report.Where("matrix", "main"), cwd=tmp_path)
    assert "- **citk-pg18**: infra_error: service postgres never became ready\n" in text
    alone = report.body(cells_of(broken), report.Where("matrix", "main"), cwd=tmp_path)
    assert "**infra_error**: service postgres never became ready\n" in alone and "Tests:" not in alone


def test_history_and_soak_flaky_tests_are_listed_with_why(tmp_path: Path) -> None:
    soak = tmp_path / "soak-1234"
    (soak / "iteration").mkdir(parents=True)
    (soak / "soak-report.json").write_text(
        json.dumps(
            {"flaky_tests": [{"id": "tests/test_q.py::test_race", "failed_in": [1, 3], "passed_in": [2]}]}
        )
    )
    flipped = ("flipped between pass and fail 3 times",)
    recorded = FlakyTest("tests/test_q.py::test_slow", 10, 8, 2, 0, 3, flipped, "20261201T000000Z-x", "abc")
    text = report.body(
        cells_of(failed_run(tmp_path)),
        report.Where("soak", "main"),
        history_flaky=[recorded],
        soak_flaky=report.soak_flaky(soak),
        cwd=tmp_path,
    )
    assert "- `tests/test_q.py::test_race`: failed in some iterations of this soak, passed in others" in text
    assert (
        "- `tests/test_q.py::test_slow`: flipped between pass and fail 3 times (2 of 10 recent runs failed)"
        in text
    )


def test_a_branch_name_cannot_close_the_marker_comment() -> None:
    where = report.Where("nightly", "evil-->branch")
    assert report.marker(where).count("-->") == 1 and report.marker(where).endswith(" -->")
    assert report.title(where) == "ci-toolkit: nightly failing on evil-->branch"
