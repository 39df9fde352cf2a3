"""A finished run's artifacts dir -> RunRecord: from the files a real pytest run writes (our
plugins' progress.tsv and phases.tsv, JUnit xunit1, coverage XML, pytest-rerunfailures), with
run.json and selection.json written as the pipeline writes them. Where it ran: the arguments,
else GitHub's variables, else git."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import asdict
from pathlib import Path

import pytest

from ci_toolkit.config.matrix import Cell
from ci_toolkit.errors import HistoryError
from ci_toolkit.history.record import build
from ci_toolkit.redact import REDACTOR
from ci_toolkit.results.junit import read_coverage, read_junit
from ci_toolkit.results.model import PhaseResult, RunResult
from ci_toolkit.shard.ledger import read_phases
from tests.conftest import run_cli

APP = """
def total(prices):
    return sum(prices)

def never_called():
    return 1
"""
SUITE = """
import os, pathlib, pytest
from app import total

COUNTER = pathlib.Path(os.environ["FLAKY_COUNTER"])

def test_total(): assert total([1, 2]) == 3
def test_fails(): assert total([1, 2]) == 4, "the total is off\\nsecond line"

def test_flaky():
    attempt = int(COUNTER.read_text()) if COUNTER.exists() else 0
    COUNTER.write_text(str(attempt + 1))
    assert attempt >= 1, "fails on its first attempt only"

@pytest.mark.skip(reason="not here")
def test_skip(): pass

@pytest.mark.xfail(reason="known bug", strict=True)
def test_xfail(): assert False

@pytest.fixture
def broken(): raise RuntimeError("setup breaks")

def test_setup_error(broken): pass

class TestGroup:
    def test_in_class(self): pass
"""
PHASES = (("validate", "ok", 0.41), ("up", "ok", 1.5), ("snapshot", "skipped", 0.0), ("test", "ok", 2.25))
FILE = "test_suite.py"


def pytest_run(run_dir: Path, *, reruns: bool = True, plugins: bool = True) -> None:
    """The suite run for real, as ci-toolkit runs it, then run.json as the pipeline writes it."""
    work = run_dir.parent / "project"
    work.mkdir(parents=True, exist_ok=True)
    (work / "app.py").write_text(APP)
    (work / FILE).write_text(SUITE)
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_XDIST", "CI_TOOLKIT_"))}
    env["FLAKY_COUNTER"] = str(run_dir.parent / "attempts")
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-o", "junit_family=xunit1"]
    cmd += [f"--junitxml={run_dir / 'junit.xml'}", "-p", "pytest_cov", "--cov=app"]
    cmd += [f"--cov-report=xml:{run_dir / 'coverage.xml'}"]
    if plugins:
        env["CI_TOOLKIT_PROGRESS"] = str(run_dir / "progress.tsv")
        env["CI_TOOLKIT_PHASES"] = str(run_dir / "phases.tsv")
        cmd += ["-p", "ci_toolkit.pytest_plugin", "-p", "ci_toolkit.pytest_shard"]
    if reruns:
        cmd += ["-p", "rerunfailures", "--reruns", "1", "--only-rerun", "AssertionError"]
    done = subprocess.run([*cmd, FILE], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    record = run_dir / "progress.tsv"
    counts = read_junit(run_dir / "junit.xml", work, record=record if plugins else None)
    result = RunResult(
        status="tests_failed",
        exit_code=1,
        project="rec-1234",
        phases=tuple(PhaseResult(n, s, sec) for n, s, sec in PHASES),
        tests=counts,
        coverage_percent=read_coverage(run_dir / "coverage.xml"),
        artifacts_dir=str(run_dir),
    )
    (run_dir / "run.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    path = tmp_path / "ci-artifacts" / "rec-1234"
    pytest_run(path)
    return path


@pytest.fixture
def no_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside any repository, so the record says nothing about a commit it cannot know."""
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))


def test_a_real_run_becomes_a_record_of_every_test(run_dir: Path, no_git: None) -> None:
    record, files = build(run_dir, {})
    run_json = json.loads((run_dir / "run.json").read_text())
    assert record.status == "tests_failed" and record.exit_code == 1 and record.project == "rec-1234"
    assert record.counts == run_json["tests"]
    assert record.counts["rerun"] >= 1 and record.counts["xfailed"] == 1
    assert record.phases == {"validate": 0.41, "up": 1.5, "snapshot": 0.0, "test": 2.25}
    assert record.coverage_percent is not None and record.coverage_percent == run_json["coverage_percent"]
    assert 0 < record.coverage_percent < 100
    tests = {t.id: t for t in record.tests}
    assert {i: t.outcome for i, t in tests.items()} == {
        f"{FILE}::test_total": "passed",
        f"{FILE}::test_fails": "failed",
        f"{FILE}::test_flaky": "passed",
        f"{FILE}::test_skip": "skipped",
        f"{FILE}::test_xfail": "xfailed",
        f"{FILE}::test_setup_error": "error",
        f"{FILE}::TestGroup::test_in_class": "passed",
    }
    # Both were rerun (an AssertionError); only test_flaky passed on its rerun.
    assert [i for i, t in tests.items() if t.reran] == [f"{FILE}::test_fails", f"{FILE}::test_flaky"]
    assert tests[f"{FILE}::test_fails"].message.startswith("AssertionError: the total is off")
    assert "second line" not in tests[f"{FILE}::test_fails"].message  # the first line only
    assert "setup breaks" in tests[f"{FILE}::test_setup_error"].message
    assert tests[f"{FILE}::test_total"].message == ""
    timings = read_phases(run_dir / "phases.tsv")  # pytest_shard's own figures, a rerun's added up
    for test_id, test in tests.items():
        timing = timings[test_id]
        assert (test.seconds, test.setup, test.teardown) == (timing.call, timing.setup, timing.teardown)
    assert record.commit is None and record.branch is None and record.cell is None and record.shard is None
    assert set(files) == {"run.json", "junit.xml", "coverage.xml"}
    assert files["junit.xml"] == (run_dir / "junit.xml").read_bytes()
    assert files["run.json"] == (run_dir / "run.json").read_bytes()


def test_the_matrix_cell_suite_and_shard_come_from_selection_and_run_json(
    run_dir: Path, no_git: None
) -> None:
    cell = Cell((("POSTGRES_IMAGE", "postgres:17"), ("suite", "smoke")), axes=("POSTGRES_IMAGE", "suite"))
    choice: dict[str, object] = {"suite": None, "matrix_entry": json.dumps(cell.mapping), "workers": None}
    choice |= {"test_timeout": None, "shard": "2/4", "services": []}
    (run_dir / "selection.json").write_text(json.dumps({**choice, "cell": cell.to_dict(), "project": "x"}))
    data = json.loads((run_dir / "run.json").read_text())
    data["shard"] = {"index": 2, "count": 4, "tests": 7, "selected": 7, "collection": "abc"}
    (run_dir / "run.json").write_text(json.dumps(data))
    record, _ = build(run_dir, {})
    assert (record.cell, record.suite, record.shard) == ("postgres:17 / smoke", "smoke", "2/4")


def test_where_it_ran_the_arguments_win_then_github_actions_variables(run_dir: Path, no_git: None) -> None:
    actions = {
        "GITHUB_SHA": "a" * 40,
        "GITHUB_HEAD_REF": "",  # set, and empty, outside pull requests
        "GITHUB_REF_NAME": "main",
        "GITHUB_WORKFLOW": "nightly",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_RUN_ID": "987654",
    }
    record, _ = build(run_dir, actions)
    assert (record.commit, record.branch, record.workflow) == ("a" * 40, "main", "nightly")
    assert record.run_url == "https://github.com/acme/shop/actions/runs/987654"
    pull = build(run_dir, {**actions, "GITHUB_HEAD_REF": "fix-total"})[0]
    assert pull.branch == "fix-total"  # a pull request's own branch, not "123/merge"
    given = build(run_dir, actions, commit="b" * 40, branch="release")[0]
    assert (given.commit, given.branch) == ("b" * 40, "release")
    assert build(run_dir, {"GITHUB_SHA": "c" * 40})[0].run_url is None  # not all three: no page


def test_where_it_ran_else_git_in_the_current_directory(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    who = {f"GIT_{r}_{k}": v for r in ("AUTHOR", "COMMITTER") for k, v in (("NAME", "t"), ("EMAIL", "t@x"))}
    for args in (["init", "-q", "-b", "feature/history"], ["commit", "-q", "--allow-empty", "-m", "x"]):
        subprocess.run(["git", *args], cwd=repo, env={**os.environ, **who}, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout
    monkeypatch.chdir(repo)
    record, _ = build(run_dir, {})
    assert (record.commit, record.branch) == (head.strip(), "feature/history")
    subprocess.run(["git", "checkout", "-q", "--detach"], cwd=repo, check=True)
    detached = build(run_dir, {})[0]
    assert (detached.commit, detached.branch) == (head.strip(), None)  # a detached HEAD: no branch


def test_a_changed_working_tree_is_recorded_as_a_dirty_commit(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text("VALUE = 1\n")
    who = {f"GIT_{r}_{k}": v for r in ("AUTHOR", "COMMITTER") for k, v in (("NAME", "t"), ("EMAIL", "t@x"))}
    for args in (["init", "-q", "-b", "main"], ["add", "app.py"], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", *args], cwd=repo, env={**os.environ, **who}, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
    ).stdout.strip()
    monkeypatch.chdir(repo)
    (repo / "ci-artifacts").mkdir()  # untracked files (artifacts, the store) are not a change
    (repo / "ci-artifacts" / "run.json").write_text("{}")
    assert build(run_dir, {})[0].commit == head
    (repo / "app.py").write_text("VALUE = 2\n")  # edited between two runs
    assert build(run_dir, {})[0].commit == f"{head}-dirty"
    assert build(run_dir, {"GITHUB_SHA": "a" * 40})[0].commit == "a" * 40  # Actions says which commit
    assert build(run_dir, {}, commit="b" * 40)[0].commit == "b" * 40


def test_no_git_or_no_repository_is_no_commit_not_an_error(
    run_dir: Path, no_git: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert build(run_dir, {})[0].commit is None  # not a repository
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    record, _ = build(run_dir, {})
    assert (record.commit, record.branch) == (None, None)  # git not installed


def test_a_run_without_our_plugins_is_read_from_junit(tmp_path: Path, no_git: None) -> None:
    run_dir = tmp_path / "plain"
    pytest_run(run_dir, plugins=False)
    assert not (run_dir / "progress.tsv").exists() and not (run_dir / "phases.tsv").exists()
    record, _ = build(run_dir, {})
    tests = {t.id: t for t in record.tests}
    assert tests[f"{FILE}::test_flaky"].outcome == "passed" and tests[f"{FILE}::test_flaky"].reran
    assert tests[f"{FILE}::test_fails"].outcome == "failed"
    assert tests[f"{FILE}::test_xfail"].outcome == "xfailed"
    assert tests[f"{FILE}::test_setup_error"].outcome == "error"
    assert all(t.setup == 0 and t.teardown == 0 for t in tests.values())
    junit = ET.parse(run_dir / "junit.xml").getroot()
    times = {case.get("name"): float(case.get("time") or 0) for case in junit.iter("testcase")}
    assert tests[f"{FILE}::test_total"].seconds == times["test_total"]  # JUnit's, the only one there is


def test_pytest_killed_before_junit_keeps_the_tests_that_finished(run_dir: Path, no_git: None) -> None:
    (run_dir / "junit.xml").unlink()
    record, files = build(run_dir, {})
    assert len(record.tests) == 7 and "junit.xml" not in files
    assert {t.id: t.outcome for t in record.tests}[f"{FILE}::test_fails"] == "failed"


def test_text_in_the_record_is_redacted(run_dir: Path, no_git: None) -> None:
    token = "ghp_" + "Z9" * 18
    junit = run_dir / "junit.xml"
    junit.write_text(junit.read_text().replace("the total is off", f"the total is off {token}"))
    record, files = build(run_dir, {"GITHUB_TOKEN": token, "GITHUB_REF_NAME": f"leak-{token}"})
    message = {t.id: t.message for t in record.tests}[f"{FILE}::test_fails"]
    assert "the total is off ***" in message and token not in message
    assert record.branch == "leak-***"
    assert token.encode() not in files["junit.xml"]
    assert token not in json.dumps(record.to_dict())
    REDACTOR.add("rec-1234")  # a [secrets] value that happens to be the project's name
    assert "rec-1234" not in json.dumps(build(run_dir, {})[0].to_dict())


def test_a_dir_without_run_json_is_an_error_that_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(HistoryError) as raised:
        build(tmp_path, {})
    assert str(tmp_path) in raised.value.message and "has no run.json" in raised.value.message
    assert "artifacts dir" in str(raised.value)
    (tmp_path / "run.json").write_text("[1, 2]")
    with pytest.raises(HistoryError, match="not a run's result"):
        build(tmp_path, {})
    result = run_cli(["history", "record", str(tmp_path / "nope"), "--store", str(tmp_path / "s")], tmp_path)
    assert result.returncode == 8, result.output
    assert f"{tmp_path / 'nope'} does not exist" in result.stderr


def test_selection_json_as_the_pipeline_writes_it_is_read(run_dir: Path, no_git: None) -> None:
    from ci_toolkit.pipeline.selection import FILE_NAME, Choice

    assert FILE_NAME == "selection.json"  # record.SELECTION_FILE names the same file
    (run_dir / FILE_NAME).write_text(json.dumps({**asdict(Choice(suite="smoke")), "cell": None}))
    record, _ = build(run_dir, {})
    assert (record.suite, record.cell) == ("smoke", None)


def test_git_is_run_through_the_process_runner(run_dir: Path, no_git: None) -> None:
    from ci_toolkit.proc import COMMAND_LOG

    before = len(COMMAND_LOG.records())
    build(run_dir, {})
    assert any(r.cmd[0] == "git" for r in COMMAND_LOG.records()[before:])
    shutil.rmtree(run_dir)
