"""Two owners in different PID namespaces on one engine: neither sweeps the other's live stack.

Runners that share the Docker socket and the hostname (containers on the host network) see
each other's pids as meaningless numbers. A live run's stack must survive the other
namespace's pre-run sweep and `stack prune`, and the live run must then pass.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CliResult, assert_no_leaks, docker_json

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

# A new PID namespace (we are root), with its own /proc so that the run sees its own pids.
NEW_PID_NAMESPACE = ("unshare", "--pid", "--fork", "--kill-child", "--mount-proc")
OUTER: tuple[str, ...] = ()

HOLD_TEST = """
import os, pathlib, time

def test_hold():
    if os.environ.get("CI_TOOLKIT_PROJECT") != os.environ["HOLD_PROJECT"]:
        return
    hold = pathlib.Path(os.environ["HOLD_DIR"])
    (hold / "started").write_text("up")
    deadline = time.monotonic() + 300
    while not (hold / "release").exists():
        assert time.monotonic() < deadline, "never released"
        time.sleep(0.2)
"""


def _cli_command(prefix: Sequence[str], *args: str) -> list[str]:
    return [*prefix, sys.executable, "-m", "ci_toolkit", *args]


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, "CI": "true", **extra}
    env.pop("GITHUB_ACTIONS", None)
    return env


def _run_cli(prefix: Sequence[str], args: Sequence[str], cwd: Path, env: dict[str, str]) -> CliResult:
    proc = subprocess.run(
        _cli_command(prefix, *args),
        cwd=cwd,
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@dataclass
class LiveRun:
    """An `integration-run --json` in the background; stderr read by one thread as it comes."""

    proc: subprocess.Popen[str]
    stderr: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def output(self) -> str:
        return "".join(self.stderr)

    def finish(self, timeout: float) -> tuple[int, dict[str, Any], str]:
        assert self.proc.stdout is not None
        stdout = self.proc.stdout.read()
        self.proc.wait(timeout=timeout)
        self.reader.join(timeout=10)
        lines = [line for line in stdout.splitlines() if line.strip()]
        assert len(lines) == 1, f"stdout must be one JSON object, got: {stdout!r}\n{self.output()}"
        return self.proc.returncode, json.loads(lines[0]), self.output()


def _start_live_run(prefix: Sequence[str], cwd: Path, project: str, env: dict[str, str]) -> LiveRun:
    proc = subprocess.Popen(
        _cli_command(prefix, "integration-run", "--json", "--project", project),
        cwd=cwd,
        env=_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    return LiveRun(proc)


def _containers(project: str) -> set[str]:
    return set(docker_json("ps", "-q", "--filter", f"label=com.docker.compose.project={project}"))


def _force_remove(project: str) -> None:
    """Cleanup after a failed assertion: the stack may be left by a killed run."""
    subprocess.run(["docker", "compose", "-p", project, "down", "-v", "-t", "0"], capture_output=True)


@pytest.mark.parametrize(
    ("live_prefix", "sweeper_prefix"),
    [(NEW_PID_NAMESPACE, OUTER), (OUTER, NEW_PID_NAMESPACE)],
    ids=["live-run-in-new-namespace", "sweeper-in-new-namespace"],
)
def test_a_live_run_in_another_pid_namespace_is_not_swept(
    example_project: Path, tmp_path: Path, live_prefix: tuple[str, ...], sweeper_prefix: tuple[str, ...]
) -> None:
    assert shutil.which("unshare"), "unshare (util-linux) is needed"
    (example_project / "example" / "tests" / "test_zz_hold.py").write_text(HOLD_TEST)
    hold = tmp_path / "hold"
    hold.mkdir()
    live_project = f"ns-live-{secrets.token_hex(4)}"
    sweeper_project = f"ns-sweep-{secrets.token_hex(4)}"
    env = {"HOLD_PROJECT": live_project, "HOLD_DIR": str(hold)}
    live = _start_live_run(live_prefix, example_project, live_project, env)
    try:
        deadline = time.monotonic() + 180
        while not (hold / "started").exists():  # the live run's stack is up and its tests run
            assert live.proc.poll() is None, live.output()
            assert time.monotonic() < deadline, live.output()
            time.sleep(0.2)
        before = _containers(live_project)
        assert len(before) == 3, before

        # The other namespace's run: its pre-run sweep looks at every stack on the engine.
        sweeper = _run_cli(
            sweeper_prefix,
            ["integration-run", "--project", sweeper_project, "--", "-k", "set_get"],
            example_project,
            env,
        )
        assert sweeper.returncode == 0, sweeper.output
        assert f"removed stale stack {live_project}" not in sweeper.output
        assert _containers(live_project) == before, sweeper.output

        # ... and `stack prune`, from the same other namespace.
        pruned = _run_cli(sweeper_prefix, ["stack", "prune", "--json"], example_project, env)
        assert pruned.returncode == 0, pruned.output
        decision = {d["project"]: d for d in pruned.json()["stacks"]}[live_project]
        print(f"prune from the other namespace: {decision['reason']}")
        assert decision["stale"] is False, decision
        assert "PID namespace" in decision["reason"], decision
        assert _containers(live_project) == before, pruned.output

        (hold / "release").write_text("go")
        code, data, output = live.finish(timeout=180)
        assert code == 0, output
        assert data["status"] == "passed" and data["tests"]["failed"] == 0, data
        assert_no_leaks(live_project)
        assert_no_leaks(sweeper_project)
    finally:
        (hold / "release").write_text("go")
        if live.proc.poll() is None:
            try:
                live.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                live.proc.kill()
                live.proc.wait()
        _force_remove(live_project)
        _force_remove(sweeper_project)
