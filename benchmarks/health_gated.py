"""Health-gated dependencies (GitHub issue 18): the bundled stack plus `app` (redis:7), which
`depends_on: {postgres: {condition: service_healthy}}`, postgres' healthcheck `pg_isready` run
every 30 s or every 5 s; each measured three ways side by side.

ci_toolkit    `ci-toolkit stack up --wait --json`, a fresh process. Its figure runs from its
              `==> up` line to its `<== ready` line (the start of the up phase to ready: the same
              span as the limit's); its whole wall time is kept next to it (`wall`).
limit         what the engine allows: `compose create`, level 1 started through the engine API
              (postgres, the critical path, first and alone; the rest alongside), postgres probed
              every 10 ms until it answers, level 2 started, every service probed every 10 ms;
              from spawning `compose create`.
compose_wait  `docker compose up -d --wait` on the same files, gated by Docker's healthcheck
              (first run one interval after the start); from spawn to its return.

Each interval has its own copy of the example, whose config lists the extra compose file and
`app` as a redis service (so ci-toolkit's readiness waits for it too). After an alternative
declares the stack ready the real clients check every service, and the engine's own timestamps
(containers created and started, postgres' "ready to accept connections") split its time into
the same segments for all three, measured from the start of its up.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.probing import Endpoint, endpoints, postgres_ready_at, tight_poll, unix_time, verify
from benchmarks.stack import (
    CITK,
    COMPOSE_FILE,
    Context,
    Project,
    checks,
    make_workdir,
    phase_marks,
    timed,
    timed_lines,
)
from benchmarks.variants import HEALTHCHECKS
from ci_toolkit.stack.engine import Engine

Sample = dict[str, Any]

INTERVALS = ("30s", "5s")
GATE = "postgres"  # what level 2 waits for (service_healthy)
LEVELS = (("postgres", "redis", "nats"), ("app",))
APP_CHECK = '\n[tool.ci-toolkit.services.app]\nkind = "redis"\nport = 6379\n'


def override_name(interval: str) -> str:
    return f"health-gated-{interval}.yml"


def gated_workdir(ctx: Context, interval: str) -> Path:
    """This interval's copy of the example (made once per run): the bundled compose file plus an
    override adding postgres' healthcheck and `app`, and a config that lists both and checks app.

    `start_period` as in the readiness suite's `--wait` variants: without it, three failed checks
    while postgres initialises would mark it unhealthy and `up --wait` would fail at once."""
    dest = ctx.scratch / f"health-gated-{interval}"
    if dest.exists():
        return dest
    make_workdir(dest)
    healthcheck = {"test": HEALTHCHECKS[GATE], "interval": interval, "start_period": "60s"}
    app = {
        "image": "redis:7",
        "ports": ["127.0.0.1::6379"],
        "depends_on": {GATE: {"condition": "service_healthy"}},
    }
    model = {"services": {GATE: {"healthcheck": healthcheck}, "app": app}}
    (dest / override_name(interval)).write_text(json.dumps(model, indent=2) + "\n")  # JSON is YAML
    config = dest / "pyproject.toml"
    text, bundled = config.read_text(), f'compose_files = ["{COMPOSE_FILE}"]'
    if bundled not in text:
        raise RuntimeError(f"pyproject.toml no longer says {bundled}: the benchmark cannot add its file")
    both = f'compose_files = ["{COMPOSE_FILE}", "{override_name(interval)}"]'
    config.write_text(text.replace(bundled, both) + APP_CHECK)
    return dest


def ci_toolkit_cli(interval: str) -> Callable[[Context, int], Sample]:
    def variant(ctx: Context, rep: int) -> Sample:
        workdir = gated_workdir(ctx, interval)
        project = Project.new(
            ctx.project_name("hg", interval, "citk", rep), workdir, [override_name(interval)]
        )
        where = ["--project", project.name, "--artifacts-dir", str(ctx.scratch / "artifacts" / project.name)]
        wall = time.time()
        total, out, lines = timed_lines([CITK, "stack", "up", "--wait", "--json", *where], workdir)
        result = json.loads(out.strip().splitlines()[-1])
        marks = phase_marks(lines)
        up_at, ready_at = marks["up"][0], marks["ready"][1]
        # ci-toolkit's own line when it opened the gate (`    postgres: service_healthy after 1.23s`).
        gate_at = next(
            (at for at, line in lines if line.strip().startswith(f"{GATE}: service_healthy")), None
        )
        eps = endpoints(ctx.engine, project.name, checks(workdir))
        problem = verify(eps)
        sample = _timeline(ctx.engine, project.name, wall + up_at, ready_at - up_at)
        down_seconds = timed([CITK, "stack", "down", *where], workdir)[0]
        parts = {"start-up": marks["validate"][0]}
        parts.update({name: end - begin for name, (begin, end) in marks.items()})
        parts["exit"] = total - ready_at
        if gate_at is not None:
            parts["up: to the gate line"] = gate_at - up_at
            parts["up: after it"] = marks["up"][1] - gate_at
        return {
            **sample,
            "ok": not problem,
            "problem": problem,
            "wall": total,
            "down_seconds": down_seconds,
            "parts": parts,
            "services": {n: s["ready_seconds"] for n, s in result["services"].items()},
        }

    return variant


def physical_limit(interval: str) -> Callable[[Context, int], Sample]:
    def variant(ctx: Context, rep: int) -> Sample:
        workdir = gated_workdir(ctx, interval)
        service_checks = checks(workdir)
        project = Project.new(
            ctx.project_name("hg", interval, "limit", rep), workdir, [override_name(interval)]
        )
        wall, started = time.time(), time.perf_counter()
        parts = {"create": project.run("create")}
        ids = {c.service: c.id for c in ctx.engine.containers(project.name)}
        ready: dict[str, float] = {}
        alongside: list[tuple[list[str], threading.Thread, list[BaseException]]] = []
        for number, level in enumerate(LEVELS, 1):
            # The gate is the critical path: started first, alone (nothing competes with its
            # start), the rest of its level alongside while it is polled.
            first = [name for name in level if name == GATE]
            t = time.perf_counter()
            for name in first:
                ctx.engine.start(ids[name])
            rest = [name for name in level if name not in first]
            alongside.append((rest, *_start_in_background(ctx.engine, [ids[name] for name in rest])))
            if not first:  # nothing to poll meanwhile: the level is up once its containers are
                alongside[-1][1].join()
            parts[f"start level {number}" + (f" ({GATE} first)" if first else "")] = time.perf_counter() - t
            if first:
                t = time.perf_counter()
                state = ctx.engine.inspect(ids[GATE])
                gate = Endpoint(service_checks[GATE], state.host, dict(state.ports))
                ready.update(tight_poll({GATE: gate}, started))
                parts[f"gate: {GATE} answers"] = time.perf_counter() - t
        t = time.perf_counter()
        pending: dict[str, Endpoint] = {}
        for names, thread, failures in alongside:
            thread.join()
            if failures:
                raise failures[0]
            for name in names:
                state = ctx.engine.inspect(ids[name])
                pending[name] = Endpoint(service_checks[name], state.host, dict(state.ports))
        ready.update(tight_poll(pending, started))
        parts["ready"] = time.perf_counter() - t
        seconds = max(ready.values())
        return _finish(ctx, project, workdir, wall, seconds, parts=parts, services=ready)

    return variant


def compose_wait(interval: str) -> Callable[[Context, int], Sample]:
    def variant(ctx: Context, rep: int) -> Sample:
        workdir = gated_workdir(ctx, interval)
        project = Project.new(
            ctx.project_name("hg", interval, "wait", rep), workdir, [override_name(interval)]
        )
        wall, started = time.time(), time.perf_counter()
        project.run("up", "-d", "--wait", "--wait-timeout", "120")
        return _finish(ctx, project, workdir, wall, time.perf_counter() - started)

    return variant


def _start_in_background(
    engine: Engine, container_ids: list[str]
) -> tuple[threading.Thread, list[BaseException]]:
    """Containers started at once (as compose starts a level), each in its own thread; one
    thread to join for all of them, and the list their failures end up in."""
    failures: list[BaseException] = []

    def start(container_id: str) -> None:
        try:
            engine.start(container_id)
        except Exception as exc:
            failures.append(exc)

    def start_all() -> None:
        threads = [threading.Thread(target=start, args=(i,)) for i in container_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    thread = threading.Thread(target=start_all, daemon=True)
    thread.start()
    return thread, failures


def _finish(
    ctx: Context, project: Project, workdir: Path, wall: float, seconds: float, **extra: Any
) -> Sample:
    eps = endpoints(ctx.engine, project.name, checks(workdir))
    problem = verify(eps)
    sample = _timeline(ctx.engine, project.name, wall, seconds)
    return {**sample, "ok": not problem, "problem": problem, "down_seconds": project.down(), **extra}


MILESTONES = ("created", f"{GATE} started", f"{GATE} ready", "app started", "ready")


def _timeline(engine: Engine, project: str, zero: float, seconds: float) -> Sample:
    """`seconds` (up to ready) and, from the engine's timestamps, when each milestone happened,
    counted from `zero` (Unix time: the start of the up), and the segments between them:
    `gate_lag` is from postgres accepting connections to app's start, the gate's own latency."""
    found = {c.service: c.id for c in engine.containers(project)}
    data = json.loads(
        subprocess.run(
            ["docker", "inspect", *found.values()], capture_output=True, text=True, check=True, timeout=60
        ).stdout
    )
    by_service = {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in data}
    pg_ready = postgres_ready_at(engine, project)
    at = {
        "created": max(unix_time(c["Created"]) for c in data),
        f"{GATE} started": unix_time(by_service[GATE]["State"]["StartedAt"]),
        f"{GATE} ready": pg_ready,
        "app started": unix_time(by_service["app"]["State"]["StartedAt"]),
    }
    milestones = {name: t - zero for name, t in at.items() if t is not None}
    milestones["ready"] = seconds
    names = [n for n in MILESTONES if n in milestones]
    segments = {"create": milestones[names[0]]} if names and names[0] == "created" else {}
    for before, after in itertools.pairwise(names):
        segments[f"{before} -> {after}"] = milestones[after] - milestones[before]
    sample: Sample = {"seconds": seconds, "milestones": milestones, "segments": segments}
    if f"{GATE} ready" in milestones:
        sample["postgres_up"] = milestones[f"{GATE} ready"]
        sample["lag"] = seconds - milestones[f"{GATE} ready"]
        sample["gate_lag"] = milestones["app started"] - milestones[f"{GATE} ready"]
    return sample


ALTERNATIVES: dict[str, tuple[str, Callable[[str], Callable[[Context, int], Sample]]]] = {
    "ci_toolkit": ("ci-toolkit stack up --wait (up phase start -> ready)", ci_toolkit_cli),
    "limit": ("physical limit: create, levels started via the engine, 10 ms protocol polls", physical_limit),
    "compose_wait": ("docker compose up -d --wait", compose_wait),
}


def cases(smoke: bool) -> dict[str, tuple[str, Callable[[Context, int], Sample]]]:
    """Every (interval, alternative) as `<interval>_<alternative>`: label and measurement.
    The smoke skips `up --wait` with the 30 s interval (half a minute per rep)."""
    return {
        f"{interval}_{key}": (f"{label}, healthcheck every {interval}", make(interval))
        for interval in INTERVALS
        for key, (label, make) in ALTERNATIVES.items()
        if not (smoke and interval == "30s" and key == "compose_wait")
    }
