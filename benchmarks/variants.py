"""Readiness of the bundled stack (postgres:15, redis:7, nats:2.10 -js), measured several ways.

Every variant times from the moment its first command is spawned to the moment it declares the
stack ready, then checks with the real client libraries that every service really answers (a
variant that is fast by being wrong is marked invalid), then takes the stack down.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.probing import Endpoint, answers, endpoints, postgres_ready_at, tight_poll, verify
from benchmarks.probing import wait_until_responsive as pytest_docker_wait
from benchmarks.stack import CITK, Context, Project, phase_marks, timed, timed_lines

Sample = dict[str, Any]

# Healthchecks as a user would add them for `up --wait`. pg_isready goes over TCP: during
# initdb the entrypoint's temporary server listens on the unix socket only, so a socket
# check would pass early and the server would then restart. The nats:2.10 image here is
# Debian-based and has bash; the official image is `scratch` (only /nats-server, which has no
# health subcommand), so there a healthcheck needs the -alpine variant and `wget`.
HEALTHCHECKS: dict[str, list[str]] = {
    "postgres": ["CMD", "pg_isready", "-h", "127.0.0.1", "-U", "test", "-d", "app"],
    "redis": ["CMD-SHELL", "redis-cli ping | grep -q PONG"],
    "nats": [
        "CMD",
        "bash",
        "-c",
        "exec 3<>/dev/tcp/127.0.0.1/8222 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 "
        "&& grep -q ' 200 ' <&3",
    ],
}


def healthcheck_override(workdir: Path, interval: str | None) -> str:
    """A compose override adding the healthchecks; `interval=None` keeps Docker's defaults (30 s).

    With a short interval, a start period is needed: three failed checks (the default retries)
    while postgres initialises mark it unhealthy, and `up --wait` then fails at once."""
    timing = {"interval": interval, "start_period": "60s"} if interval else {}
    services = {name: {"healthcheck": {"test": test, **timing}} for name, test in HEALTHCHECKS.items()}
    name = f"healthcheck-{interval or 'default'}.yml"
    (workdir / name).write_text(json.dumps({"services": services}, indent=2) + "\n")  # JSON is YAML
    return name


def physical_limit(ctx: Context, rep: int) -> Sample:
    """`docker compose up -d`, then every service probed every 10 ms from the host (overlapping)."""
    project = Project.new(ctx.project_name("limit", rep), ctx.workdir)
    wall, started = time.time(), time.perf_counter()
    project.run("up", "-d")
    up_returned = time.perf_counter() - started
    eps = endpoints(ctx.engine, project.name, ctx.checks)
    ready = tight_poll(eps, started)
    seconds = max(ready.values())
    parts = {"up": up_returned, "ready": seconds - up_returned}
    return _finish(ctx, project, eps, seconds, wall, parts=parts, services=ready)


def ci_toolkit_cli(ctx: Context, rep: int) -> Sample:
    """`ci-toolkit stack up --wait` as a user runs it (a fresh process); then `ci-toolkit stack down`.

    Its progress lines are timestamped as they arrive, which splits the wall time into start-up
    (interpreter, imports, config), validate, up, ready and exit."""
    project = Project.new(ctx.project_name("citk", rep), ctx.workdir)
    artifacts = ctx.scratch / "artifacts" / project.name
    where = ["--project", project.name, "--artifacts-dir", str(artifacts)]
    wall = time.time()
    seconds, out, lines = timed_lines([CITK, "stack", "up", "--wait", "--json", *where], ctx.workdir)
    result = json.loads(out.strip().splitlines()[-1])
    eps = endpoints(ctx.engine, project.name, ctx.checks)
    problem = verify(eps)
    marks = phase_marks(lines)
    timing = _postgres_timing(ctx, project, wall, marks["ready"][1], up_at=marks["up"][0])
    down_seconds = timed([CITK, "stack", "down", *where], ctx.workdir)[0]
    parts = {"start-up": marks["validate"][0]}
    parts.update({name: end - begin for name, (begin, end) in marks.items()})
    parts["exit"] = seconds - marks["ready"][1]
    ready_from_up = max(s["ready_seconds"] for s in result["services"].values())
    return {
        "seconds": seconds,
        "ok": not problem,
        "problem": problem,
        "down_seconds": down_seconds,
        "parts": parts,
        "services": {n: s["ready_seconds"] for n, s in result["services"].items()},
        "ready_from_up": ready_from_up,
        # From the last service's successful probe to the `<== ready` line: loop and discovery cost.
        "after_ready": parts["up"] + parts["ready"] - ready_from_up,
        **timing,
    }


def compose_wait(interval: str | None) -> Callable[[Context, int], Sample]:
    """`docker compose up -d --wait` with healthchecks at `interval` (None: Docker's default 30 s)."""

    def variant(ctx: Context, rep: int) -> Sample:
        override = healthcheck_override(ctx.workdir, interval)
        project = Project.new(ctx.project_name("wait", interval or "default", rep), ctx.workdir, [override])
        wall, started = time.time(), time.perf_counter()
        project.run("up", "-d", "--wait", "--wait-timeout", "120")
        seconds = time.perf_counter() - started
        eps = endpoints(ctx.engine, project.name, ctx.checks)
        return _finish(ctx, project, eps, seconds, wall)

    variant.__doc__ = f"up -d --wait, healthcheck interval {interval or '30s (Docker default)'}"
    return variant


def pytest_docker(ctx: Context, rep: int) -> Sample:
    """The pytest-docker pattern: `up -d`; per service (one fixture after another) `port_for`
    (`docker compose port`), then `wait_until_responsive(check, timeout=60, pause=0.5)`."""
    project = Project.new(ctx.project_name("pytestdocker", rep), ctx.workdir)
    wall, started = time.time(), time.perf_counter()
    project.run("up", "-d")
    eps: dict[str, Endpoint] = {}
    services: dict[str, float] = {}
    for name, check in ctx.checks.items():
        wanted = [check.port, *([check.monitor_port] if check.monitor_port else [])]
        ep = Endpoint(check, "127.0.0.1", {p: project.port(name, p) for p in wanted})
        pytest_docker_wait(partial(answers, ep, 1.0), timeout=60, pause=0.5)
        services[name] = time.perf_counter() - started
        eps[name] = ep
    return _finish(ctx, project, eps, time.perf_counter() - started, wall, services=services)


def _finish(
    ctx: Context, project: Project, eps: dict[str, Endpoint], seconds: float, wall: float, **extra: Any
) -> Sample:
    problem = verify(eps)
    timing = _postgres_timing(ctx, project, wall, seconds)
    down_seconds = project.down()
    return {
        "seconds": seconds,
        "ok": not problem,
        "problem": problem,
        "down_seconds": down_seconds,
        **timing,
        **extra,
    }


def _postgres_timing(
    ctx: Context, project: Project, wall: float, declared: float, up_at: float = 0.0
) -> dict[str, float]:
    """From postgres' own log (it is always the last service up): `postgres_up`, seconds from the
    start of compose's `up` (`up_at` seconds into the variant) until postgres accepted connections,
    and `lag`, from then until the variant declared the stack ready (negative: declared too early)."""
    server_ready = postgres_ready_at(ctx.engine, project.name)
    if server_ready is None:
        return {}
    return {"postgres_up": server_ready - wall - up_at, "lag": wall + declared - server_ready}


VARIANTS: dict[str, tuple[str, Callable[[Context, int], Sample]]] = {
    "limit": ("physical limit: up -d + 10 ms overlapping protocol poll", physical_limit),
    "ci_toolkit": ("ci-toolkit stack up --wait (CLI, wall time)", ci_toolkit_cli),
    "wait_1s": ("compose up --wait, healthcheck interval 1s", compose_wait("1s")),
    "wait_5s": ("compose up --wait, healthcheck interval 5s", compose_wait("5s")),
    "wait_default": ("compose up --wait, Docker default healthcheck (30s)", compose_wait(None)),
    "pytest_docker": ("pytest-docker pattern: up -d, port_for, poll with 0.5 s pause", pytest_docker),
}
