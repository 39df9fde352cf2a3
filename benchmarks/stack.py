"""What every benchmark shares: a scratch copy of the example, compose projects, pollers, verification.

Every compose project is named `bench-<run id>-...` and recorded in `CREATED`, so the runner can
prove (and, after a crash, ensure) that nothing it started is left behind.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ci_toolkit.config import ServiceCheck
from ci_toolkit.config import load as load_config
from ci_toolkit.engine import Engine
from ci_toolkit.probes import NotReady, probe

REPO = Path(__file__).resolve().parent.parent
CITK = str(Path(sys.executable).parent / "ci-toolkit")
COMPOSE_FILE = "docker-compose.test.yml"
PROJECT_LABEL = "com.docker.compose.project"
MAX_IN_FLIGHT = 32  # per service, for the overlapping tight poll
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


# -- where the services are, and whether they answer -----------------------------------------


@dataclass(frozen=True)
class Endpoint:
    check: ServiceCheck
    host: str
    ports: dict[int, int]  # container port -> host port

    def port(self) -> int:
        return self.ports[self.check.port]


def endpoints(
    engine: Engine, project: str, service_checks: Mapping[str, ServiceCheck]
) -> dict[str, Endpoint]:
    """Host ports of a started project, read from the engine (one list + one inspect per container)."""
    found = {c.service: c for c in engine.containers(project)}
    result = {}
    for name, check in service_checks.items():
        ports = found[name].ports
        result[name] = Endpoint(check, "127.0.0.1", {c: hp for c, (_, hp) in ports.items()})
    return result


READY_LINE = "database system is ready to accept connections"


def postgres_ready_at(engine: Engine, project: str) -> float | None:
    """When postgres itself logged that it accepts connections (Unix time, the daemon's log
    timestamp). The last such line counts: the entrypoint's first server, during initdb, listens
    on the unix socket only and is then restarted."""
    container = next((c for c in engine.containers(project) if c.service == "postgres"), None)
    if container is None:
        return None
    logs = subprocess.run(["docker", "logs", "-t", container.id], capture_output=True, text=True, timeout=60)
    stamps = [
        line.split(" ", 1)[0] for line in (logs.stdout + logs.stderr).splitlines() if READY_LINE in line
    ]
    if not stamps:
        return None
    return unix_time(stamps[-1])


def unix_time(stamp: str) -> float:
    """`2026-11-21T17:57:47.581179489Z` (nanoseconds, which datetime does not take) -> Unix time."""
    whole, _, frac = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp() + float(f"0.{frac or 0}")


def answers(ep: Endpoint, timeout: float) -> bool:
    """One protocol probe (ci_toolkit.probes): login + SELECT 1, PING, NATS CONNECT + JetStream API."""
    try:
        probe(ep.check, ep.host, ep.ports, timeout)
    except NotReady:
        return False
    return True


def tight_poll(
    eps: Mapping[str, Endpoint],
    started: float,
    *,
    interval: float = 0.01,
    attempt_timeout: float = 1.0,
    timeout: float = 120,
) -> dict[str, float]:
    """Start a probe of every not-yet-ready service every `interval`, letting attempts overlap.

    Overlap matters: a connection opened just after `up` can hang ~1 s inside docker-proxy; the
    attempt started 10 ms later gets through meanwhile. Returns seconds from `started` per service.
    """
    ready: dict[str, float] = {}
    in_flight: Counter[str] = Counter()
    lock = threading.Lock()
    all_ready = threading.Event()

    def attempt(name: str, ep: Endpoint) -> None:
        try:
            if answers(ep, attempt_timeout):
                with lock:
                    ready.setdefault(name, time.perf_counter() - started)
                    if len(ready) == len(eps):
                        all_ready.set()
        finally:
            with lock:
                in_flight[name] -= 1

    deadline = time.perf_counter() + timeout
    while not all_ready.is_set():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"not ready after {timeout:g}s: {sorted(set(eps) - set(ready))}")
        for name, ep in eps.items():
            with lock:
                go = name not in ready and in_flight[name] < MAX_IN_FLIGHT
                if go:
                    in_flight[name] += 1
            if go:
                threading.Thread(target=attempt, args=(name, ep), daemon=True).start()
        all_ready.wait(interval)
    return dict(ready)


def wait_until_responsive(check: Callable[[], bool], timeout: float, pause: float) -> None:
    """pytest-docker's `Services.wait_until_responsive`, line for line."""
    ref = time.perf_counter()
    now = ref
    while (now - ref) < timeout:
        if check():
            return
        time.sleep(pause)
        now = time.perf_counter()
    raise TimeoutError(f"not responsive after {timeout:g}s")


def verify(eps: Mapping[str, Endpoint]) -> str:
    """Check with the real client libraries (not ci-toolkit's probes) that every service answers.

    Returns "" when all do, else what failed. One attempt each, 5 s timeout, no retries.
    """
    problems = []
    for name, ep in eps.items():
        try:
            VERIFIERS[ep.check.kind](ep)
        except Exception as exc:
            problems.append(f"{name}: {type(exc).__name__}: {str(exc).strip()[:200]}")
    return "; ".join(problems)


def _verify_postgres(ep: Endpoint) -> None:
    import psycopg

    c = ep.check
    with psycopg.connect(
        host=ep.host, port=ep.port(), user=c.user, password=c.password, dbname=c.database, connect_timeout=5
    ) as conn:
        row = conn.execute("SELECT 1").fetchone()
        assert row == (1,), row


def _verify_redis(ep: Endpoint) -> None:
    import redis

    client = redis.Redis(host=ep.host, port=ep.port(), socket_timeout=5, socket_connect_timeout=5)
    try:
        assert client.ping() is True
    finally:
        client.close()


def _verify_nats(ep: Endpoint) -> None:
    import nats

    async def check() -> None:
        nc = await nats.connect(
            f"nats://{ep.host}:{ep.port()}",
            connect_timeout=5,
            allow_reconnect=False,
            max_reconnect_attempts=0,
        )
        try:
            if ep.check.jetstream:
                await nc.jetstream().account_info()
            else:
                await nc.flush(timeout=5)
        finally:
            await nc.close()

    asyncio.run(check())


VERIFIERS: dict[str, Callable[[Endpoint], None]] = {
    "postgres": _verify_postgres,
    "redis": _verify_redis,
    "nats": _verify_nats,
}
