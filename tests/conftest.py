"""Shared fixtures: a copy of the bundled example to change freely, a CLI runner, and leak checks.

Leak checks look only at the compose projects a test itself created (by project name), so
tests and other runs on the same engine never see each other's stacks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
# Not an estimate of how long anything takes: waits are for a condition, and this only turns a
# hang into a failure that shows the output so far (below pytest-timeout's 600 s, which shows none).
BACKSTOP = 300.0


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> dict:  # type: ignore[type-arg]
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, f"expected exactly one JSON line on stdout, got:\n{self.stdout}"
        return json.loads(lines[0])  # type: ignore[no-any-return]


def run_cli(
    args: Sequence[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> CliResult:
    """Run `ci-toolkit ARGS` as a user would: a real subprocess, no TTY, CI-style output."""
    full_env = {**os.environ, "CI": "true", **(env or {})}
    full_env.pop("GITHUB_ACTIONS", None)
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        full_env.pop(name, None)  # this suite under xdist: the run's own pytest is no xdist worker
    proc = subprocess.run(
        [sys.executable, "-m", "ci_toolkit", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


EXAMPLE_CONFIG = """\
compose_files = ["docker-compose.test.yml"]
artifacts_dir = "ci-artifacts"

[env]
defaults = { EXAMPLE_STREAM = "ORDERS" }

[services.postgres]
kind = "postgres"
port = 5432
user = "test"
password = "test"
database = "app"

[services.redis]
kind = "redis"
port = 6379

[services.nats]
kind = "nats"
port = 4222
jetstream = true
monitor_port = 8222

[export]
DATABASE_URL = "postgresql://test:test@{postgres.host}:{postgres.port:5432}/app"
REDIS_URL = "redis://{redis.host}:{redis.port:6379}/0"
NATS_URL = "nats://{nats.host}:{nats.port:4222}"

[migrations]
directory = "migrations"
dsn = "{export.DATABASE_URL}"

[secrets]
API_KEY = { name = "/ci/test/api_key", optional = true }

[pytest]
paths = ["example/tests"]
args = ["-q", "-p", "no:cacheprovider"]
markers = ["slow: JetStream round trips", "destructive: changes shared data"]
coverage_source = ["example"]

[timeouts]
up = 120
ready = 60
migrate = 60
test = 300
down = 60

[suites]
smoke = "not slow and not destructive"
full = ""

[matrix]
POSTGRES_IMAGE = ["postgres:15", "postgres:17"]
suite = ["smoke", "full"]
include = [
  { POSTGRES_IMAGE = "postgres:15", EXPECT_POSTGRES_MAJOR = "15" },
  { POSTGRES_IMAGE = "postgres:17", EXPECT_POSTGRES_MAJOR = "17" },
]
"""


def load_config_text(tmp_path: Path, text: str) -> Any:
    """Write `text` as ci-toolkit.toml in `tmp_path` and load it as a user's run would."""
    from ci_toolkit import config

    (tmp_path / "ci-toolkit.toml").write_text(text)
    return config.load(tmp_path)


def config_error(tmp_path: Path, text: str) -> str:
    """The message of the config error `text` gives; it must carry the config exit code."""
    from ci_toolkit.errors import ConfigError, ExitCode

    with pytest.raises(ConfigError) as info:
        load_config_text(tmp_path, text)
    assert info.value.exit_code == ExitCode.CONFIG
    return str(info.value)


@pytest.fixture
def example_project(tmp_path: Path) -> Path:
    """A copy of the bundled example with its own ci-toolkit.toml, safe to modify."""
    dest = tmp_path / "proj"
    dest.mkdir()
    shutil.copy(REPO / "docker-compose.test.yml", dest)
    shutil.copytree(REPO / "migrations", dest / "migrations")
    shutil.copytree(
        REPO / "example", dest / "example", ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache")
    )
    (dest / "ci-toolkit.toml").write_text(EXAMPLE_CONFIG)
    return dest


def docker_json(*args: str) -> list[str]:
    out = subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def service_containers(project: str, service: str) -> list[str]:
    """Ids of the containers (any state) of one service of a compose project."""
    return docker_json(
        "ps",
        "-a",
        "-q",
        "--filter",
        f"label={PROJECT_LABEL}={project}",
        "--filter",
        f"label={SERVICE_LABEL}={service}",
    )


def wait_until(
    condition: Callable[[], Any],
    *,
    what: str,
    process: subprocess.Popen[Any] | None = None,
    output: Callable[[], str] = lambda: "",
    backstop: float = BACKSTOP,
) -> Any:
    """Poll `condition` until it returns something true, and return that. If `process` ends
    first, fail at once (what it was waiting for can no longer happen); `output` says why."""
    deadline = time.monotonic() + backstop
    while True:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            value = condition()  # it may have come true just before the process ended
            if value:
                return value
            raise AssertionError(
                f"the process ended (exit {process.returncode}) while waiting for {what}:\n{output()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting for {what} after {backstop:g}s (a hang):\n{output()}")
        time.sleep(0.05)


def engine_clock() -> str:
    """The engine's clock (for `docker events --since/--until`), not this machine's."""
    return str(json.loads(docker_json("info", "--format", "{{json .SystemTime}}")[0]))


@contextmanager
def engine_events(project: str) -> Iterator[list[str]]:
    """`Type Action` of every engine event for one compose project while the block runs (filled
    in when it ends). Streamed live: the engine keeps only its last 256 events, which a machine
    busy with other runs turns over in well under a minute, so a replay afterwards can miss them.
    The replay covers only the edges: events from before the stream subscribed, and in flight."""
    fmt = [
        "--filter",
        f"label={PROJECT_LABEL}={project}",
        "--format",
        "{{.TimeNano}} {{.Actor.ID}} {{.Type}} {{.Action}}",
    ]
    since = engine_clock()
    stream = subprocess.Popen(
        ["docker", "events", "--since", since, *fmt],
        stdout=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    streamed: list[str] = []
    assert stream.stdout is not None
    reader = threading.Thread(target=lambda: streamed.extend(stream.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    events: list[str] = []
    try:
        yield events
    finally:
        alive = stream.poll() is None
        tail = docker_json("events", "--since", since, "--until", engine_clock(), *fmt)
        stream.terminate()
        stream.wait()
        reader.join(timeout=10)
    assert alive, "`docker events` stopped streaming: the events seen are not all there were"
    unique = sorted({line.strip() for line in [*streamed, *tail] if line.strip()})
    events.extend(line.split(" ", 2)[2] for line in unique)


def leaked_resources(project: str) -> dict[str, list[str]]:
    """Containers, networks and volumes still carrying this compose project's label."""
    flt = f"label={PROJECT_LABEL}={project}"
    return {
        "containers": docker_json("ps", "-a", "-q", "--filter", flt),
        "networks": docker_json("network", "ls", "-q", "--filter", flt),
        "volumes": docker_json("volume", "ls", "-q", "--filter", flt),
    }


def assert_no_leaks(project: str) -> None:
    leaks = leaked_resources(project)
    assert leaks == {"containers": [], "networks": [], "volumes": []}, f"{project} leaked: {leaks}"


def projects_with_prefix(prefix: str) -> set[str]:
    names = docker_json(
        "ps",
        "-a",
        "--filter",
        f"label={PROJECT_LABEL}",
        "--format",
        '{{.Label "com.docker.compose.project"}}',
    )
    return {n for n in names if n.startswith(prefix)}


@pytest.fixture
def engine_available() -> Iterator[None]:
    """Integration tests need the real engine; fail loudly (not skip) when it is missing."""
    probe = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        pytest.fail(
            "the Docker engine is not reachable; run ../shared/sandbox/docker-up.sh "
            f"(docker info: {probe.stderr.strip()[:200]})"
        )
    yield


_REDACTOR_STATE = ("_values", "_forms", "_fragment_forms")


@pytest.fixture(autouse=True)
def restore_redactor() -> Iterator[None]:
    """Tests that resolve secrets in this process teach the global redaction filter their values;
    afterwards it is put back as it was, so later tests' output is not masked by them."""
    from ci_toolkit.redact import REDACTOR

    saved = {name: set(getattr(REDACTOR, name)) for name in _REDACTOR_STATE}
    yield
    for name, values in saved.items():
        setattr(REDACTOR, name, values)
    REDACTOR._matcher = None  # rebuilt from the restored values on next use


@pytest.fixture(autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Leases and snapshots (`--reuse`, `--snapshot`) go to a directory of the test's own, never
    the developer's ~/.local/state; CLI subprocesses inherit it through the environment."""
    path = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("CI_TOOLKIT_STATE_DIR", str(path))
    return path

