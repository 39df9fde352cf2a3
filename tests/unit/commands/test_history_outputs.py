"""The history commands' own failures as a user meets them through the CLI: an output path that
cannot be written (a directory, under /proc), a store path or S3 endpoint that cannot be used, a
run dir whose records are not UTF-8. Each is an error naming what and why (or no error at all),
never exit 70 with a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_toolkit.history.model import RunRecord, TestResult
from ci_toolkit.history.store import open_store
from tests.conftest import CliResult, run_cli


@pytest.fixture
def store(tmp_path: Path) -> str:
    kept = open_store(str(tmp_path / "store"), tmp_path)
    kept.put(
        RunRecord("20261202T071503.123Z-p-1", 1_796_195_703.123, "passed", 0, {"passed": 1}, 90.0,
                  {"test": 1.0}, (TestResult("t::a", "passed", 0.5),), commit="c" * 40, branch="main"),
        {},
    )  # fmt: skip
    return str(tmp_path / "store")


def run_dir(parent: Path) -> Path:
    run = parent / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"status": "tests_failed", "exit_code": 1, "project": "p",
                                              "tests": {"passed": 1, "failed": 1}}))  # fmt: skip
    return run


def refused(done: CliResult, path: Path, reason: str) -> None:
    assert done.returncode == 2, done.output
    assert f"cannot be written to {path}: {reason}" in done.stderr, done.output
    assert "Traceback" not in done.output


def test_a_badge_onto_a_directory_or_under_proc_is_a_usage_error_naming_it(
    tmp_path: Path, store: str
) -> None:
    (tmp_path / "badges").mkdir()
    for out, reason in ((tmp_path / "badges", "is a directory"), (Path("/proc/x/b.svg"), "no such file")):
        done = run_cli(["badge", "coverage", "--store", store, "--out", str(out)], tmp_path)
        refused(done, out, reason)
        assert "the coverage badge" in done.stderr
    proc = Path("/proc/x")
    refused(run_cli(["badge", "tests", "--store", store, "--out", str(proc)], tmp_path), proc, "no such file")


def test_history_html_and_durations_onto_a_directory_are_usage_errors(tmp_path: Path, store: str) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    page = run_cli(["history", "html", str(taken), "--store", store], tmp_path)
    refused(page, taken, "is a directory")
    assert "the history page" in page.stderr
    ledger = run_cli(["history", "durations", "-o", str(taken), "--store", store], tmp_path)
    refused(ledger, taken, "is a directory")
    assert "the durations ledger" in ledger.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store", "taken"]  # no temporary file left


def test_report_issue_body_out_onto_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    done = run_cli(["report", "issue", str(run_dir(tmp_path)), "--body-out", str(taken),
                    "--workflow", "nightly", "--branch", "main"], tmp_path)  # fmt: skip
    refused(done, taken, "is a directory")
    assert "the issue body (--body-out)" in done.stderr


def test_a_store_path_under_no_users_home_is_exit_8_naming_it(tmp_path: Path) -> None:
    for args in (["history", "trend"], ["history", "record", str(run_dir(tmp_path))]):
        done = run_cli([*args, "--store", "~no-such-user-ci/history"], tmp_path)
        assert done.returncode == 8, done.output
        assert (
            "history store ~no-such-user-ci/history: ~no-such-user-ci names no home directory" in done.stderr
        )
        assert "Traceback" not in done.output


def test_an_s3_endpoint_without_its_scheme_is_exit_8_naming_it(tmp_path: Path) -> None:
    env = {"AWS_ENDPOINT_URL": "minio:9000", "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    for args in (["history", "flaky"], ["badge", "tests", "-o", str(tmp_path / "t.svg")]):
        done = run_cli([*args, "--store", "s3://ci-history/team"], tmp_path, env=env)
        assert done.returncode == 8, done.output
        assert "S3 endpoint AWS_ENDPOINT_URL=minio:9000 is not a valid endpoint URL" in done.stderr
        assert "AWS_ENDPOINT_URL=http://minio:9000" in done.stderr  # the hint


def test_records_that_are_not_utf8_are_recorded_with_the_bad_bytes_replaced(tmp_path: Path) -> None:
    run = run_dir(tmp_path)
    (run / "progress.tsv").write_bytes(b"passed\tt.py::test_a\nfailed\tt.py::test_\xe9t\xe9\n")
    (run / "phases.tsv").write_bytes(b"call\t0.5\tt.py::test_\xe9t\xe9\n")
    done = run_cli(["history", "record", str(run), "--store", str(tmp_path / "s"), "--json"], tmp_path)
    assert done.returncode == 0, done.output
    assert done.json()["tests"] == 2
    slowest = run_cli(["history", "slowest", "--json", "--store", str(tmp_path / "s")], tmp_path)
    assert slowest.json()["slowest"][0] == {"id": "t.py::test_\ufffdt\ufffd", "runs": 1, "median": 0.5,
                                            "p95": 0.5, "max": 0.5, "last": 0.5}  # fmt: skip
