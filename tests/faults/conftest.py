"""Fault injection helpers: start a real run, wait for a phase, hit it, check the aftermath.

Nothing here waits for a guess of how long something takes: a fault is injected once the run is
demonstrably where the fault belongs (its progress line, a marker file a test writes, a container
that exists), and the phase it hits is held there (a test or migration that takes HOLD_SECONDS, a
container that never turns healthy) until something stops it.
"""

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKSTOP, assert_no_leaks, wait_until

pytestmark = pytest.mark.usefixtures("engine_available")

# How long a held phase would last if nothing stopped it: far beyond any teardown, so a run that
# stopped promptly and one that waited for the phase to end cannot be mistaken for each other.
HOLD_SECONDS = 600
# Collect and teardown take seconds even on a loaded machine; a run that did not stop would go on
# for HOLD_SECONDS (or to a phase timeout of minutes). A line between the two noise cannot cross.
PROMPT_SECONDS = HOLD_SECONDS / 5

SLOW_TEST = f"""
import os, pathlib, time

def test_slow():
    pathlib.Path(os.environ["FAULT_MARKER"]).write_text("started")
    time.sleep({HOLD_SECONDS})
"""

# A container that never turns healthy (failed checks do not count during its start period):
# `ready` waits for it, and so does compose `up` for a service that depends on it being healthy.
GATE = f"""  gate:
    image: redis:7
    healthcheck:
      test: ["CMD", "test", "-e", "/never"]
      interval: 1s
      start_period: {HOLD_SECONDS}s
"""
HELD_BACK = """  held-back:
    image: redis:7
    depends_on:
      gate:
        condition: service_healthy
"""


@dataclass
class LiveRun:
    """A `ci-toolkit integration-run --json` in the background, progress read line by line."""

    proc: subprocess.Popen[str]
    project: str
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    stderr: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def wait_for(self, pattern: str, timeout: float = BACKSTOP) -> str:
        """The next progress line matching `pattern`; fails if the run ends first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and not (self.reader and self.reader.is_alive()):
                    break  # the run is over and all its output has been read
                continue
            if re.search(pattern, line):
                return line
        raise AssertionError(f"never saw {pattern!r}; output so far:\n{''.join(self.stderr)}")

    def wait_until(self, condition: Callable[[], Any], what: str) -> Any:
        """Until `condition()` is true; fails at once if the run ends first."""
        return wait_until(condition, what=what, process=self.proc, output=lambda: "".join(self.stderr))

    def wait_for_file(self, path: Path) -> None:
        """Until a test of the run has written `path` (it is running now)."""
        self.wait_until(path.exists, f"{path.name} to be written by the run's tests")

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
    (project_dir / "migrations" / "003_slow.sql").write_text(f"SELECT pg_sleep({HOLD_SECONDS});\n")


def compose_add(project_dir: Path, *services_yaml: str) -> None:
    """Add services to the project's compose file (before its top-level `volumes:`)."""
    compose = project_dir / "docker-compose.test.yml"
    text = compose.read_text()
    assert "\nvolumes:\n" in text, "the example's compose file no longer ends with its volumes"
    compose.write_text(text.replace("\nvolumes:\n", "\n" + "".join(services_yaml) + "\nvolumes:\n"))


def patient_timeouts(project_dir: Path) -> None:
    """Phase timeouts as long as a hold: only the fault under test can end a held phase early."""
    cfg = project_dir / "ci-toolkit.toml"
    text = cfg.read_text()
    for phase in ("up", "ready", "migrate", "test"):
        text, found = re.subn(rf"(?m)^{phase} = \d+$", f"{phase} = {HOLD_SECONDS}", text, count=1)
        assert found, f"no timeouts.{phase} in {cfg}"
    cfg.write_text(text)


SIGNALS = {"SIGINT": (signal.SIGINT, 130), "SIGTERM": (signal.SIGTERM, 143)}
