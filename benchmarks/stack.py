"""What every benchmark shares: a scratch copy of the example, compose projects, timed commands.

Every compose project is named `bench-<run id>-...` and recorded in `CREATED`, so the runner can
prove (and, after a crash, ensure) that nothing it started is left behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_toolkit.config import ServiceCheck
from ci_toolkit.config import load as load_config
from ci_toolkit.stack.engine import Engine

REPO = Path(__file__).resolve().parent.parent
CITK = str(Path(sys.executable).parent / "ci-toolkit")
COMPOSE_FILE = "docker-compose.test.yml"
PROJECT_LABEL = "com.docker.compose.project"
CREATED: list[Project] = []


@dataclass(frozen=True)
class Context:
    """One benchmark run: its id (in every project name), scratch dir, example copy and engine."""

    run_id: str
    scratch: Path
    workdir: Path
    engine: Engine
    checks: dict[str, ServiceCheck]

    def project_name(self, *parts: object) -> str:
        return "-".join(["bench", self.run_id, *(str(p) for p in parts)])


def env() -> dict[str, str]:
    """The environment every child process gets: CI-style output, not inside GitHub Actions, and
    the ci_toolkit next to benchmarks/ first on the path (what is measured is this checkout)."""
    full = {**os.environ, "CI": "true"}
    full.pop("GITHUB_ACTIONS", None)
    full["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return full


def make_workdir(dest: Path) -> Path:
    """A copy of the bundled example (config in pyproject.toml, compose file, migrations, tests)."""
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", COMPOSE_FILE):
        shutil.copy(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache")
    for name in ("migrations", "example"):
        shutil.copytree(REPO / name, dest / name, ignore=ignore)
    return dest


def checks(workdir: Path) -> dict[str, ServiceCheck]:
    return {c.name: c for c in load_config(workdir).services}


def timed(
    cmd: Sequence[str], cwd: Path, timeout: float = 600
) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a command to completion; its wall time in seconds and its result (raises if it fails)."""
    started = time.perf_counter()
    done = subprocess.run(
        list(cmd),
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return seconds, done


def timed_lines(
    cmd: Sequence[str], cwd: Path, timeout: float = 900
) -> tuple[float, str, list[tuple[float, str]]]:
    """Like `timed`, also timestamping every stderr line as it arrives (ci-toolkit's progress goes
    there with --json), so a wall time can be split into its phases, start-up and exit included."""
    started = time.perf_counter()
    child = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert child.stdout is not None and child.stderr is not None
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(child.stdout.read()))  # type: ignore[union-attr]
    reader.start()
    lines = [(time.perf_counter() - started, line.rstrip("\n")) for line in child.stderr]
    reader.join(timeout)
    code = child.wait(timeout)
    seconds = time.perf_counter() - started
    if code != 0:
        text = "\n".join(line for _, line in lines)
        raise RuntimeError(f"{' '.join(cmd)} exited {code}:\n{''.join(out)}\n{text}")
    return seconds, "".join(out), lines


def phase_marks(lines: list[tuple[float, str]]) -> dict[str, tuple[float, float]]:
    """`==> name` / `<== name ...` progress lines -> {name: (started, ended)} in seconds from spawn."""
    starts: dict[str, float] = {}
    marks: dict[str, tuple[float, float]] = {}
    for at, line in lines:
        if line.startswith("==> "):
            starts[line[4:].strip()] = at
        elif line.startswith("<== "):
            name = line[4:].split()[0]
            marks[name] = (starts.get(name, at), at)
    return marks


@dataclass(frozen=True)
class Project:
    """One compose project of ours, driven by the bare compose CLI."""

    name: str
    workdir: Path
    files: tuple[str, ...] = (COMPOSE_FILE,)

    @classmethod
    def new(cls, name: str, workdir: Path, extra_files: Iterable[str] = ()) -> Project:
        project = cls(name, workdir, (COMPOSE_FILE, *extra_files))
        CREATED.append(project)
        return project

    def command(self, *args: str) -> list[str]:
        cmd = ["docker", "compose", "-p", self.name]
        for f in self.files:
            cmd += ["-f", f]
        return [*cmd, *args]

    def run(self, *args: str, timeout: float = 600) -> float:
        return timed(self.command(*args), self.workdir, timeout)[0]

    def down(self) -> float:
        return self.run("down", "-v")

    def port(self, service: str, container_port: int) -> int:
        """What pytest-docker's `port_for` does: ask `docker compose port`."""
        out = timed(self.command("port", service, str(container_port)), self.workdir)[1].stdout
        return int(out.strip().rsplit(":", 1)[1])


def leftovers(prefix: str) -> dict[str, set[str]]:
    """Compose projects whose name starts with `prefix` that still own containers, networks or volumes."""
    fmt = '{{.Label "' + PROJECT_LABEL + '"}}'
    found: dict[str, set[str]] = {}
    for kind, cmd in {
        "containers": ["docker", "ps", "-a"],
        "networks": ["docker", "network", "ls"],
        "volumes": ["docker", "volume", "ls"],
    }.items():
        out = subprocess.run(
            [*cmd, "--filter", f"label={PROJECT_LABEL}", "--format", fmt],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found[kind] = {name for name in out.split() if name.startswith(prefix)}
    return found


def clean_up(prefix: str) -> list[str]:
    """Take down every project of ours that still has resources; the names that needed it."""
    left = set().union(*leftovers(prefix).values())
    for project in CREATED:
        if project.name in left:
            subprocess.run(
                project.command("down", "-v", "--remove-orphans", "-t", "0"),
                cwd=project.workdir,
                capture_output=True,
                env=env(),
            )
    return sorted(left)
