"""The terminal closes under a run (a closed window, a dropped SSH session): the kernel sends
SIGHUP and every later write to the terminal fails with EIO. The run must still tear down,
write its bundle and result to the artifacts dir, and exit 129."""

from __future__ import annotations

import json
import os
import pty
import secrets
import select
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import BACKSTOP, assert_no_leaks, run_cli
from tests.faults.conftest import add_slow_test

pytestmark = pytest.mark.usefixtures("engine_available")


class TerminalRun:
    """`ci-toolkit integration-run` on a pseudo-terminal that is its controlling terminal."""

    def __init__(self, cwd: Path, project: str, env: dict[str, str]) -> None:
        self.project = project
        self.output = b""
        argv = [sys.executable, "-m", "ci_toolkit", "integration-run", "--project", project]
        full_env = {**os.environ, "TERM": "xterm-256color", **env}
        full_env.pop("GITHUB_ACTIONS", None)
        self.pid, self.fd = pty.fork()  # the child: a new session whose controlling tty is the pty
        if self.pid == 0:
            os.chdir(cwd)
            os.execvpe(argv[0], argv, full_env)

    def read_until(self, done: callable, timeout: float = BACKSTOP) -> None:  # type: ignore[valid-type]
        deadline = time.monotonic() + timeout
        while not done(self.output):
            assert time.monotonic() < deadline, self.output.decode(errors="replace")
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if ready:
                try:
                    self.output += os.read(self.fd, 65536)
                except OSError:  # the child exited
                    break

    def close_terminal(self) -> None:
        os.close(self.fd)  # the last handle on the master: the tty hangs up, the session gets SIGHUP

    def exit_code(self, timeout: float = BACKSTOP) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.1)
        raise AssertionError(f"the run did not end within {timeout}s after its terminal closed")


def _assert_torn_down_with_evidence(project_dir: Path, project: str, code: int) -> None:
    assert code == 129, code
    run_dir = project_dir / "ci-artifacts" / project
    result = json.loads((run_dir / "run.json").read_text())
    assert result["status"] == "interrupted" and result["exit_code"] == 129, result
    assert "SIGHUP" in result["message"], result["message"]
    summary = (run_dir / "SUMMARY.md").read_text()
    assert "**interrupted**" in summary and "Look at:" in summary
    assert (run_dir / "commands.json").is_file() and (run_dir / "events.json").is_file()
    assert_no_leaks(project)


def test_terminal_closed_during_ready_tears_down_and_exits_129(example_project: Path) -> None:
    # A password the server rejects keeps the run in `ready` until we close the terminal.
    config = example_project / "ci-toolkit.toml"
    config.write_text(config.read_text().replace('password = "test"', 'password = "wrong"', 1))
    project = f"hup-{secrets.token_hex(4)}"
    run = TerminalRun(example_project, project, {"CI": "true"})  # plain lines: "==> ready" shows
    try:
        run.read_until(lambda out: b"==> ready" in out)
        run.close_terminal()
        code = run.exit_code()
    finally:
        run_cli(["stack", "down", "--project", project], example_project)
    _assert_torn_down_with_evidence(example_project, project, code)


def test_terminal_closed_during_tests_with_live_display_tears_down(
    example_project: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    env = {**add_slow_test(example_project, marker), "CI": ""}  # a real terminal: the live display
    project = f"hup-{secrets.token_hex(4)}"
    run = TerminalRun(example_project, project, env)
    try:
        run.read_until(lambda out: marker.exists())  # the slow test is running
        run.close_terminal()
        code = run.exit_code()
    finally:
        run_cli(["stack", "down", "--project", project], example_project)
    _assert_torn_down_with_evidence(example_project, project, code)
