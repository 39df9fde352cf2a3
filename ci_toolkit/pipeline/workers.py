"""Each pytest-xdist worker's own data on the one stack (`--workers N`; README "Workers").

An export that uses `{worker}` or `{worker.index}` (directly or through another export) is
rendered once per worker, gw0 … gw{N-1}, and the lot goes to pytest in one variable,
CI_TOOLKIT_WORKER_ENV (JSON, worker -> {name: value}); `pytest_plugin` applies a worker's values
before any conftest is imported. `main` (no xdist) is the ordinary environment.

When an export uses `{worker}`, every Postgres service's database D is copied for each worker
into D_<worker> (`CREATE DATABASE D_gw0 TEMPLATE D`), before the tests start and on every run:
after migrations, or after a lease's reset made D "just migrated" again. Redis needs nothing:
`{worker.index}` is the database index, and a reset's FLUSHALL empties them all. NATS needs
nothing either: a prefix export (`t_{worker}`) the tests put in front of their subjects and streams.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ci_toolkit.config import Config, ServiceCheck, templates
from ci_toolkit.errors import InfrastructureError, UsageError
from ci_toolkit.pipeline import endpoints
from ci_toolkit.pipeline.context import RunContext
from ci_toolkit.pipeline.state import RunState
from ci_toolkit.redact import REDACTOR
from ci_toolkit.reuse.reset_postgres import MAX_IDENTIFIER, OBJECT_IN_USE, maintenance_database
from ci_toolkit.stack import pgwire
from ci_toolkit.stack.pgwire import quote_ident, quote_literal

ENV = "CI_TOOLKIT_WORKER_ENV"  # read by pytest_plugin (which imports nothing of ours)
REDIS_DATABASES = 16  # Redis's default `databases`: indexes 0-15
COPY_ATTEMPTS = 3  # a client that reconnects to D between ending its connections and the copy
PARALLEL_COPIES = 8


@dataclass(frozen=True)
class Plan:
    workers: tuple[templates.Worker, ...]  # gw0 … gw{N-1}, or (main,) without xdist
    varying: Mapping[str, str]  # the per-worker exports, each with how it depends on the worker
    clone: bool  # an export uses {worker}: each Postgres database is copied per worker

    @property
    def xdist(self) -> bool:
        return self.workers != (templates.MAIN,)

    @property
    def names(self) -> str:
        return ", ".join(w.name for w in self.workers)


def plan(config: Config, workers: str | None) -> Plan:
    """The workers of a run (`workers`: the number `selection.check_workers` made of --workers)
    and what differs between them; a UsageError when the config cannot give each its own data."""
    count = int(workers) if workers else 0
    members = tuple(templates.Worker.xdist(i) for i in range(count)) or (templates.MAIN,)
    varying = templates.per_worker(config.export)
    result = Plan(members, varying, bool(templates.per_worker(config.export, (templates.WORKER,))))
    for check in config.services if result.clone else ():
        longest = clone_name(check.database, members[-1])
        if check.kind == "postgres" and len(longest.encode()) > MAX_IDENTIFIER:
            # The server would cut the name short, and the export would name another database.
            raise UsageError(
                f"services.{check.name}: the worker copy {longest} of database {check.database} is "
                f"longer than {MAX_IDENTIFIER} bytes, Postgres's limit for a name",
                hint=f"a shorter services.{check.name}.database, or fewer workers",
            )
    if not (varying and result.xdist):
        return result
    # ci-toolkit's plugin gives each worker its values, in any interpreter (pipeline.runner).
    redis = {c.name for c in config.services if c.kind == "redis"}
    for name in templates.per_worker(config.export, (templates.WORKER_INDEX,)):
        if count > REDIS_DATABASES and any(r.scope in redis for r in templates.refs(config.export[name])):
            raise UsageError(
                f"--workers {count}: export.{name} gives each worker a Redis database of its own "
                f"({{worker.index}}: 0-{count - 1}), and Redis has {REDIS_DATABASES} "
                f"(0-{REDIS_DATABASES - 1})",
                hint=f"use at most {REDIS_DATABASES} workers, or a key prefix with {{worker}} "
                "instead of the index",
            )
    return result


def prepare(ctx: RunContext, state: RunState) -> dict[str, str]:
    """Before the tests: each worker's databases made, and the variables that give each worker
    its values (to add to the tests' environment). Says what it made."""
    made = plan(ctx.config, ctx.options.workers)
    who = f"workers {made.names}" if made.xdist else "worker main"
    if not made.varying:
        if made.xdist:
            ctx.reporter.info(f"    {who} share the stack's data: no export uses {{worker}}")
        return {}
    env = environment(made, ctx.config, state.services, state.env)
    if made.clone:
        started = time.monotonic()
        copies = clone_databases(made, ctx.config, state.services, ctx.config.timeouts.migrate)
        listed = "; ".join(f"{', '.join(names)} cloned from {source}" for source, names in copies)
        ctx.reporter.info(
            f"    {who}: {listed or 'no Postgres service to clone'} in {time.monotonic() - started:.2f}s"
        )
    else:
        ctx.reporter.info(f"    {who}: each with its own {', '.join(made.varying)}")
    return env


def environment(
    made: Plan, config: Config, services: Mapping[str, templates.Reachable], env: Mapping[str, str]
) -> dict[str, str]:
    """CI_TOOLKIT_WORKER_ENV: each xdist worker's values of the per-worker exports (`{}` without
    xdist: `main`'s are the ordinary environment, and an `-n` nobody planned is refused)."""
    if not made.varying:
        return {}
    table: dict[str, dict[str, str]] = {}
    for worker in made.workers if made.xdist else ():
        rendered = endpoints.render_exports(config, services, env, worker)
        table[worker.name] = {name: rendered[name] for name in made.varying}
        REDACTOR.add_sensitive_env(table[worker.name])  # a URL's password, a token-named export
    return {ENV: json.dumps(table)}


def clone_name(database: str, worker: templates.Worker) -> str:
    return f"{database}_{worker.name}"


def clone_databases(
    made: Plan, config: Config, services: Mapping[str, templates.Reachable], timeout: float
) -> list[tuple[str, list[str]]]:
    """Every Postgres service's database copied afresh for each worker: (source, its copies)."""
    copies: list[tuple[str, list[str]]] = []
    for check in config.services:
        if check.kind != "postgres" or check.name not in services:  # `start` may leave it out
            continue
        # Under xdist the controller's own environment says `main` (a conftest's session hooks
        # may connect there before any worker does): its copy is made too.
        owners = (*made.workers, templates.MAIN) if made.xdist else made.workers
        names = [clone_name(check.database, w) for w in owners]
        svc = services.get(check.name)
        if svc is None or check.port not in svc.ports:
            raise InfrastructureError(
                f"service {check.name}: container port {check.port} is not reachable to copy {check.database}"
            )
        _clone(check, svc.host, svc.ports[check.port], names, timeout)
        copies.append((check.database, names))
    return copies


def _clone(check: ServiceCheck, host: str, port: int, names: Sequence[str], timeout: float) -> None:
    source = check.database
    session = _connect(check, host, port, timeout)
    try:
        lookup = f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = {quote_literal(source)}"
        rows = _run(session, check, source, "look up", lookup)
        major = session.server_major
        if rows:  # nobody may be connected to a template: the server would wait 5 s, then refuse
            _run(session, check, source, "end the connections to", _end_connections(source))
    finally:
        session.close()
    if not rows:
        raise InfrastructureError(
            f"service {check.name}: database {source} does not exist, so no worker copy can be made of it",
            hint=f"services.{check.name}.database names the database the migrations fill",
        )
    owner = str(rows[0][0])  # the copies belong to whoever owns the original
    force = " WITH (FORCE)" if major >= 13 else ""  # a client of the last run's copy: ended
    # Copies of one template run side by side on the server: 8 take about as long as 2.
    with ThreadPoolExecutor(max_workers=min(len(names), PARALLEL_COPIES)) as pool:
        copies = [pool.submit(_copy, check, host, port, name, owner, force, timeout) for name in names]
        for copy in copies:
            copy.result()


def _copy(
    check: ServiceCheck, host: str, port: int, name: str, owner: str, force: str, timeout: float
) -> None:
    source = check.database
    session = _connect(check, host, port, timeout)
    try:
        _run(session, check, name, "drop the old", f"DROP DATABASE IF EXISTS {quote_ident(name)}{force}")
        create = (
            f"CREATE DATABASE {quote_ident(name)} OWNER {quote_ident(owner)} TEMPLATE {quote_ident(source)}"
        )
        for attempt in range(1, COPY_ATTEMPTS + 1):
            try:
                session.query(create)
                return
            except pgwire.PgError as exc:  # a client of the source (an app container): end it, again
                if exc.code != OBJECT_IN_USE or attempt == COPY_ATTEMPTS:
                    raise _failed(check, name, f"copy {source} into", exc) from None
                _run(session, check, source, "end the connections to", _end_connections(source))
                time.sleep(0.05 * attempt)  # ended connections take a moment to be gone
            except OSError as exc:
                raise _failed(check, name, f"copy {source} into", exc) from None
    finally:
        session.close()


def _end_connections(database: str) -> str:
    where = f"datname = {quote_literal(database)} AND pid <> pg_backend_pid()"
    return f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {where}"


def _connect(check: ServiceCheck, host: str, port: int, timeout: float) -> pgwire.Session:
    millis = str(max(1, int(timeout * 1000)))  # a stuck server cannot hold the run
    settings = {"statement_timeout": millis, "lock_timeout": millis}
    database = maintenance_database(check.database)
    try:
        return pgwire.connect(host, port, check.user, check.password, database, timeout, settings=settings)
    except (pgwire.PgError, OSError) as exc:
        raise InfrastructureError(
            f"service {check.name}: could not connect to {host}:{port} (database {database}, user "
            f"{check.user}) to copy {check.database} for the workers: {exc}"
        ) from None


def _run(session: pgwire.Session, check: ServiceCheck, name: str, what: str, sql: str) -> list[pgwire.Row]:
    try:
        return session.query(sql)
    except (pgwire.PgError, OSError) as exc:
        raise _failed(check, name, what, exc) from None


def _failed(check: ServiceCheck, name: str, what: str, exc: Exception) -> InfrastructureError:
    code = getattr(exc, "code", "")
    detail = f"{exc} (SQLSTATE {code})" if code else f"{type(exc).__name__}: {exc}"
    return InfrastructureError(
        f"service {check.name}: could not {what} database {name} for the workers: {detail}",
        hint=f"see logs/{check.name}.log in the run's artifacts",
    )


def available_cpus() -> int:
    """What `--workers auto` means: PYTEST_XDIST_AUTO_NUM_WORKERS if set (as xdist reads it),
    else the CPUs this process may run on."""
    forced = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").strip()
    if forced.isdigit() and int(forced) >= 1:
        return int(forced)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)
