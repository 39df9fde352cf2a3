"""pytest killed from outside (the out-of-memory killer, a runner's watchdog): the run names the
signal and its likely cause, keeps pytest's output so far, reports the tests that had finished
(JUnit XML was never written), and tears the stack down."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli

pytestmark = pytest.mark.usefixtures("engine_available")

KILLER = """
import os, signal

def test_zz_one(): pass
def test_zz_two(): pass

def test_zz_the_oom_killer_strikes():
    print("about to be killed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer does to the biggest process
"""


def test_pytest_killed_by_sigkill_names_the_signal_and_counts_finished_tests(example_project: Path) -> None:
    (example_project / "example" / "tests" / "test_zz_killed.py").write_text(KILLER)
    project = f"kill-{secrets.token_hex(4)}"
    result = run_cli(["integration-run", "--json", "--project", project], example_project)
    assert result.returncode == 6, result.output
    data = result.json()
    assert data["status"] == "test_runner_error", data
    message = data["message"]
    assert "pytest was killed by SIGKILL (signal 9)" in message, message
    assert "out-of-memory killer" in message and "dmesg" in message, message
    # The example's 10 passing and 3 skipped tests, then the two that finished before the kill.
    assert "15 tests had finished (12 passed, 0 failed, 0 errors, 3 skipped)" in message, message
    assert data["tests"] == {
        "passed": 12, "failed": 0, "errors": 0, "skipped": 3, "xfailed": 0, "xpassed": 0, "rerun": 0,
    }, data["tests"]  # fmt: skip
    run_dir = Path(data["artifacts_dir"])
    assert "......sss.." in (run_dir / "pytest.log").read_text()  # the partial output is kept
    assert not (run_dir / "junit.xml").exists()
    assert "**test_runner_error**" in (run_dir / "SUMMARY.md").read_text()
    assert_no_leaks(project)
