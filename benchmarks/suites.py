"""Overhead of a whole run, CLI start-up, and concurrent runs.

Teardown needs no suite of its own: every readiness variant times its own `down`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.probing import endpoints, tight_poll
from benchmarks.stack import CITK, Context, Project, env, make_workdir, phase_marks, timed, timed_lines
from ci_toolkit.config import load as load_config
from ci_toolkit.pipeline.pytest_run import build_command

Sample = dict[str, Any]


def integration_run(ctx: Context, rep: int) -> Sample:
    """`ci-toolkit integration-run --json` as a user runs it. Its phases come from the progress lines,
    timestamped as they arrive, plus start-up (spawn to the first phase) and exit (last phase to exit)."""
    project = Project.new(ctx.project_name("run", rep), ctx.workdir)
    artifacts = ctx.scratch / "artifacts" / project.name
    cmd = [CITK, "integration-run", "--json", "--project", project.name, "--artifacts-dir", str(artifacts)]
    seconds, out, lines = timed_lines(cmd, ctx.workdir)
    result = json.loads(out.strip().splitlines()[-1])
    if result["status"] != "passed":
        raise RuntimeError(f"integration-run {result['status']}: {result['message']}")
    marks = phase_marks(lines)
    phases = {"start-up": marks["validate"][0]}
    phases.update({name: end - begin for name, (begin, end) in marks.items()})
    phases["exit"] = seconds - max(end for _, end in marks.values())
    return {"seconds": seconds, "phases": phases}


def by_hand(ctx: Context, rep: int) -> Sample:
    """The same work without ci-toolkit, done as tightly as possible from this (warm) process:
    bare `up -d`, ports from the engine, the 10 ms overlapping protocol poll, the migrations with
    psycopg (same SQL, same tracking table), pytest with ci-toolkit's exact command, `down -v`."""
    config = load_config(ctx.workdir)
    project = Project.new(ctx.project_name("byhand", rep), ctx.workdir)
    out_dir = ctx.scratch / "artifacts" / project.name
    out_dir.mkdir(parents=True)
    phases: dict[str, float] = {}
    started = time.perf_counter()
    phases["up"] = project.run("up", "-d")
    t = time.perf_counter()
    eps = endpoints(ctx.engine, project.name, ctx.checks)
    tight_poll(eps, t)
    phases["ready"] = time.perf_counter() - t
    pg, rd, nt = eps["postgres"], eps["redis"], eps["nats"]
    login = f"{pg.check.user}:{pg.check.password}"
    exports = {
        "DATABASE_URL": f"postgresql://{login}@{pg.host}:{pg.port()}/{pg.check.database}",
        "REDIS_URL": f"redis://{rd.host}:{rd.port()}/0",
        "NATS_URL": f"nats://{nt.host}:{nt.port()}",
        **config.env_defaults,
    }
    t = time.perf_counter()
    assert config.migrations is not None
    migrate(exports["DATABASE_URL"], config.migrations.directory, config.migrations.table)
    phases["migrate"] = time.perf_counter() - t
    t = time.perf_counter()
    cmd = build_command(config.pytest, out_dir)
    test_env = {**env(), **exports, "COVERAGE_FILE": str(out_dir / ".coverage"), "CI_TOOLKIT_MARKERS": ""}
    done = subprocess.run(cmd, cwd=ctx.workdir, env=test_env, capture_output=True, text=True, timeout=600)
    phases["test"] = time.perf_counter() - t
    if done.returncode != 0:
        raise RuntimeError(f"pytest by hand exited {done.returncode}:\n{done.stdout[-2000:]}")
    phases["down"] = project.down()
    return {"seconds": time.perf_counter() - started, "phases": phases}


def migrate(dsn: str, directory: Path, table: str) -> None:
    """What `ci-toolkit migrate` does, minus the checks: one transaction per file, recorded in the
    configured tracking table (`[migrations] table`)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (version bigint PRIMARY KEY, "
            "name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for path in sorted(directory.glob("*.sql")):
            with conn.transaction():
                conn.execute(path.read_bytes())
                conn.execute(
                    f"INSERT INTO {table} (version, name, checksum) VALUES (%s, %s, %s)",
                    (
                        int(path.name.split("_", 1)[0]),
                        path.name,
                        hashlib.sha256(path.read_bytes()).hexdigest(),
                    ),
                )


def startup_commands() -> dict[str, tuple[str, list[str]]]:
    return {
        "help": ("ci-toolkit --help", [CITK, "--help"]),
        "config_check": ("ci-toolkit config check", [CITK, "config", "check"]),
        "compose_version": ("docker compose version", ["docker", "compose", "version"]),
        "python": ("python -c pass", [sys.executable, "-c", "pass"]),
    }


def startup(ctx: Context, rep: int) -> dict[str, float]:
    """Each command once, each in a fresh process (page cache warm: the machine is shared)."""
    return {key: timed(cmd, ctx.workdir)[0] for key, (_, cmd) in startup_commands().items()}


def concurrent_runs(ctx: Context, rep: int, *, n: int) -> Sample:
    """`n` integration-runs started together, each in its own checkout; wall time until the last ends."""
    slots = [ctx.scratch / f"slot{i}" for i in range(n)]
    for slot in slots:
        if not slot.exists():
            make_workdir(slot)
    projects = [Project.new(ctx.project_name(f"conc{n}", rep, i), slot) for i, slot in enumerate(slots)]
    results: list[tuple[float, str]] = []

    def one(project: Project) -> None:
        cmd = [
            CITK,
            "integration-run",
            "--json",
            "--project",
            project.name,
            "--artifacts-dir",
            str(ctx.scratch / "artifacts" / project.name),
        ]
        done = subprocess.run(
            cmd,
            cwd=project.workdir,
            env=env(),
            capture_output=True,
            text=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )
        try:
            status = json.loads(done.stdout.strip().splitlines()[-1])["status"]
        except (IndexError, ValueError, KeyError):
            status = f"no JSON result (exit {done.returncode}): {done.stderr.strip()[-300:]}"
        results.append((time.perf_counter() - started, status))

    threads = [threading.Thread(target=one, args=(p,)) for p in projects]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    failed = [status for _, status in results if status != "passed"]
    if failed or len(results) != n:
        raise RuntimeError(f"concurrent integration-runs did not all pass: {failed}")
    return {"seconds": wall, "each": sorted(t for t, _ in results)}
