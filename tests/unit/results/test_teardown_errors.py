"""A teardown error is pytest's second report on a test, not a rerun: both JUnit readers (the
run's and `report merge`'s) count it as pytest's terminal line does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from ci_toolkit.results.junit import read_junit
from ci_toolkit.shard import testcases

TESTS = """
import pytest

@pytest.fixture
def bad():
    yield
    raise RuntimeError("teardown broke")

def test_both(bad):
    assert 0, "the assertion that failed"

def test_teardown_only(bad):
    pass

def test_ok():
    pass
"""


def test_failed_then_teardown_error_and_passed_then_teardown_error(tmp_path: Path) -> None:
    (tmp_path / "test_td.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CI_TOOLKIT_"))}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--junitxml=j.xml",
            "-o",
            "junit_family=xunit1",
            "test_td.py",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    line = out.strip().splitlines()[-1]
    said = {
        word.rstrip("s").replace("error", "errors"): int(n) for n, word in re.findall(r"(\d+) (\w+)", line)
    }
    assert said == {"failed": 1, "passed": 2, "errors": 2}, line
    counts = read_junit(tmp_path / "j.xml")
    assert (counts.passed, counts.failed, counts.errors, counts.rerun) == (2, 1, 2, 0)
    assert "the assertion that failed" in " ".join(f.message for f in counts.failures)
    cases = testcases.read(tmp_path / "j.xml", "1/1")
    outcomes = sorted(c.outcome for c, _ in cases)
    assert outcomes == ["error", "error", "failed", "passed", "passed"]
