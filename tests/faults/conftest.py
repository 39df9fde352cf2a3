"""Fault injection helpers: start a real run, wait for a phase, hit it, check the aftermath."""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import assert_no_leaks

pytestmark = pytest.mark.usefixtures("engine_available")

SLOW_TEST = """
import os, pathlib, time

def test_slow():
    pathlib.Path(os.environ["FAULT_MARKER"]).write_text("started")
    time.sleep(60)
"""


@dataclass
class LiveRun:
    """A `ci-toolkit integration-run --json` in the background, progress read line by line."""

    proc: subprocess.Popen[str]
    project: str
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    stderr: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def wait_for(self, pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if re.search(pattern, line):
                return line
        raise AssertionError(f"never saw {pattern!r}; output so far:\n{''.join(self.stderr)}")

    def signal(self, signum: int) -> None:
        os.kill(self.proc.pid, signum)

    def finish(self, timeout: float = 120) -> tuple[int, dict[str, Any], str]:
        # stdout only: stderr has exactly one reader (the thread), or lines would be split between two.
        assert self.proc.stdout is not None
        stdout = self.proc.stdout.read()
        self.proc.wait(timeout=timeout)
        if self.reader is not None:
            self.reader.join(timeout=10)
        output = "".join(self.stderr)
        json_lines = [line for line in stdout.splitlines() if line.strip()]
        assert len(json_lines) == 1, f"stdout must be one JSON object, got: {stdout!r}\n{output}"
        return self.proc.returncode, json.loads(json_lines[0]), output


def start_run(
    cwd: Path, *args: str, env: dict[str, str] | None = None, project: str | None = None
) -> LiveRun:
    project = project or f"fault-{secrets.token_hex(4)}"
    full_env = {**os.environ, "CI": "true", **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ci_toolkit", "integration-run", "--json", "--project", project, *args],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    run = LiveRun(proc, project)

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            run.stderr.append(line)
            run.lines.put(line)

    run.reader = threading.Thread(target=read, daemon=True)
    run.reader.start()
    return run


def assert_clean_failure(
    code: int,
    data: dict[str, Any],
    output: str,
    *,
    expect_code: int,
    status: str,
    message: str,
    project: str | None,
) -> None:
    """What every fault must give: its exit code, a clear message, a bundle, no traceback, no leak."""
    assert code == expect_code, output
    assert data["exit_code"] == expect_code and data["status"] == status, data
    assert message in data["message"], data["message"]
    own_output = [line for line in output.splitlines() if not line.startswith("INTERNALERROR>")]
    assert not [line for line in own_output if "Traceback" in line], output  # pytest's own may have one
    bundle = Path(data["artifacts_dir"])
    summary = (bundle / "SUMMARY.md").read_text()
    assert f"**{status}**" in summary and "Look at:" in summary
    if project is not None:
        assert_no_leaks(project)


def add_slow_test(project_dir: Path, marker: Path) -> dict[str, str]:
    (project_dir / "example" / "tests" / "test_zz_slow.py").write_text(SLOW_TEST)
    return {"FAULT_MARKER": str(marker)}


def add_slow_migration(project_dir: Path) -> None:
    (project_dir / "migrations" / "003_slow.sql").write_text("SELECT pg_sleep(60);\n")


SIGNALS = {"SIGINT": (signal.SIGINT, 130), "SIGTERM": (signal.SIGTERM, 143)}
