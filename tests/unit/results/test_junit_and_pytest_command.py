"""JUnit and coverage parsing, and the redaction filter."""

from __future__ import annotations

from pathlib import Path

from ci_toolkit.config import PytestConfig
from ci_toolkit.pipeline.pytest_run import build_command
from ci_toolkit.redact import Redactor
from ci_toolkit.results.junit import read_coverage, read_junit

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
<testcase classname="tests.test_a" name="test_ok" file="tests/test_a.py" line="3"/>
<testcase classname="tests.test_a" name="test_ok2" file="tests/test_a.py" line="6"/>
<testcase classname="tests.test_a" name="test_bad" file="tests/test_a.py" line="9">
  <failure message="assert 1 == 2">long traceback</failure></testcase>
<testcase classname="tests.test_a" name="test_err" file="tests/test_a.py" line="12">
  <error message="fixture blew up">trace</error></testcase>
<testcase classname="tests.test_a" name="test_skip" file="tests/test_a.py" line="15">
  <skipped message="later"/></testcase>
</testsuite></testsuites>
"""


def test_junit_counts_and_failures(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT)
    counts = read_junit(path, tmp_path)
    assert (counts.passed, counts.failed, counts.errors, counts.skipped) == (2, 1, 1, 1)
    bad = counts.failures[0]
    assert bad.id == "tests/test_a.py::test_bad" and bad.line == 10 and bad.message == "assert 1 == 2"


def test_missing_junit_is_zero_counts(tmp_path: Path) -> None:
    assert read_junit(tmp_path / "nope.xml").total == 0


def test_coverage_percent(tmp_path: Path) -> None:
    path = tmp_path / "coverage.xml"
    path.write_text('<?xml version="1.0" ?><coverage line-rate="0.8734" version="7"></coverage>')
    assert round(read_coverage(path) or 0, 2) == 87.34


def test_pytest_command_loads_plugins_explicitly(tmp_path: Path) -> None:
    cmd = build_command(PytestConfig(paths=("t",), coverage_source=("app",)), tmp_path)
    assert cmd[1:4] == ["-m", "pytest", "t"]
    assert cmd[cmd.index("pytest_cov") - 1 : cmd.index("pytest_cov") + 1] == ["-p", "pytest_cov"]
    assert f"--junitxml={tmp_path / 'junit.xml'}" in cmd and "--cov=app" in cmd


def test_redactor_masks_every_known_value_and_env_snapshot() -> None:
    redactor = Redactor()
    redactor.add("s3cr3t-value")
    redactor.add("ab")  # too short to mask safely: ignored
    assert redactor("x s3cr3t-value y s3cr3t-value") == "x *** y ***"
    snap = redactor.env_snapshot({"API_TOKEN": "t", "HOME": "/root", "URL": "postgresql://u:pw@h/db"})
    assert snap == {"API_TOKEN": "***", "HOME": "/root", "URL": "postgresql://u:***@h/db"}


def test_required_and_credential_looking_env_values_are_redacted() -> None:
    redactor = Redactor()
    env = {"SOME_TOKEN": "tok-0123456789", "MODE": "test", "DB_HOST": "db.internal.example", "GH_PAT": "x"}
    redactor.add_sensitive_env(env, names=("DB_HOST", "MODE"))
    text = redactor("tok-0123456789 db.internal.example test")
    assert text == "*** *** test"  # short values ("test") are never registered this way


def test_the_working_directory_is_not_a_secret() -> None:
    """PWD matches the credential pattern ("pwd") but masking it would hide every path."""
    redactor = Redactor()
    redactor.add_sensitive_env({"PWD": "/home/me/project", "OLDPWD": "/home/me", "DB_PWD": "hunter2-long"})
    assert redactor("/home/me/project/ci-artifacts hunter2-long") == "/home/me/project/ci-artifacts ***"
    assert redactor.env_snapshot({"PWD": "/home/me/project"}) == {"PWD": "/home/me/project"}
