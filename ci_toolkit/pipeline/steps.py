"""The steps of a run. Each takes the run's context and what it needs from earlier steps, and
returns what it produces (a `Product`); none changes shared state. `sequence` orders them.

    validate -> secrets -> up -> ready -> migrate -> test      (setup and tests)
    collect -> down                                            (teardown, always)
"""

from __future__ import annotations

import shlex
import time

from ci_toolkit.errors import CommandError, EngineLost, InfrastructureError
from ci_toolkit.pipeline import (
    artifacts,
    endpoints,
    leasing,
    migrations,
    pytest_run,
    sharding,
    snapshots,
    validation,
    workers,
)
from ci_toolkit.pipeline.context import RunContext
from ci_toolkit.pipeline.state import (
    Migrated,
    Product,
    Reached,
    ResetDone,
    RunState,
    SecretsFetched,
    SnapshotSaved,
    Started,
    Tested,
    Upped,
    Validated,
)
from ci_toolkit.redact import REDACTOR
from ci_toolkit.results.model import ServiceResult
from ci_toolkit.stack import compose, dependencies, health, selection
from ci_toolkit.stack.engine import Engine, remove_leftovers, wait_until_reachable
from ci_toolkit.stack.events import EventRecorder


def validate(ctx: RunContext, state: RunState) -> Validated:
    # A warm run's pytest is forked first: it starts while the stack is checked and reset.
    prestarted = leasing.prestart(ctx)
    try:
        return validation.validate(ctx, prestarted)
    except BaseException:
        if prestarted is not None:  # never left waiting at its gate
            prestarted.child.cancel()
        raise


def fetch_secrets(ctx: RunContext, state: RunState) -> SecretsFetched:
    """[secrets] from SSM (or --secrets-from-env / --secrets-file), before any container starts."""
    from ci_toolkit import secret_store

    values, detail = secret_store.fetch_for_run(
        ctx.config,
        from_env=ctx.options.secrets_from_env,
        file=ctx.options.secrets_file,
        reporter=ctx.reporter,
    )
    return SecretsFetched(detail, secrets=values)


def stack_for(ctx: RunContext, state: RunState) -> Started:
    """The compose project `up` is about to create. Made before `up` so that teardown has it
    even when `up` fails half way (some containers created, the rest not)."""
    assert state.model is not None and state.engine is not None
    # A lease outlives the run that made it, like a kept stack: prune judges it by idle time.
    labels = compose.owner_labels(ctx.run_id, keep=ctx.options.keep or ctx.lease is not None)
    override = compose.write_owner_override(ctx.run_dir / "compose.owner.json", state.model, labels)
    stack = compose.Stack(
        ctx.project,
        (*ctx.config.compose_files, override),
        ctx.config.profiles,
        ctx.config.root,
        dict(state.env),
    )
    events = EventRecorder(state.engine, ctx.project).start()
    return Started(stack=stack, events=events, up_started=time.monotonic())


def up(ctx: RunContext, state: RunState) -> Upped:
    """Reuse the lease's stack as it is (--reuse), or start one: from a snapshot's data (--snapshot)
    or from nothing."""
    assert state.stack is not None and state.model is not None and state.engine is not None
    replaced = leasing.reuse_or_replace(ctx, state) if ctx.lease is not None else Upped()
    if replaced.warm:
        return replaced
    manifest = snapshots.usable(ctx, state) if ctx.options.snapshot else None
    if manifest is not None:
        snapshots.load(ctx, state, manifest)
    used = manifest.key if manifest is not None else None
    detail = _start(ctx, state) + (f", data from snapshot {used}" if used else "")
    return Upped(detail, lease_changes=replaced.lease_changes, snapshot_used=used)


def _start(ctx: RunContext, state: RunState) -> str:
    assert state.stack is not None and state.model is not None and state.engine is not None
    if not dependencies.health_gated(state.model):
        compose.up(state.stack, timeout=ctx.config.timeouts.up, model=state.model)
        return f"project {ctx.project}"
    # `compose up` would wait a healthcheck interval per gated dependency: start in order ourselves.
    dependencies.up_in_order(
        state.stack,
        state.engine,
        state.model,
        selection.run_checks(ctx.config.services, state.model),
        timeout=ctx.config.timeouts.up,
        on_gate=lambda name, condition, s: ctx.reporter.info(f"    {name}: {condition} after {s:.2f}s"),
    )
    return f"project {ctx.project}, started in dependency order"


def ready(ctx: RunContext, state: RunState) -> Reached:
    assert state.engine is not None and state.up_started is not None
    if state.warm:  # a reused stack gets one probe round, no waiting
        reached = discover(ctx, state)
        leasing.probe_once(ctx, reached.services, state.model)
        return Reached("one probe round (reused stack)", services=reached.services, env=reached.env)
    checks_by_name = selection.run_checks(ctx.config.services, state.model, ctx.reporter.info)
    ctx.reporter.services_waiting(sorted(checks_by_name))
    try:
        readiness = health.wait_ready(
            state.engine,
            ctx.project,
            checks_by_name,
            started=state.up_started,
            timeout=ctx.config.timeouts.ready,
            on_ready=lambda r: ctx.reporter.service_ready(r.service, r.seconds),
        )
    finally:
        ctx.reporter.services_done()
    reached = discover(ctx, state, readiness)
    slowest = max(readiness.values(), key=lambda r: r.seconds, default=None)
    detail = f"slowest: {slowest.service} {slowest.seconds:.2f}s" if slowest else ""
    return Reached(detail, services=reached.services, env=reached.env)


def discover(
    ctx: RunContext, state: RunState, readiness: dict[str, health.Readiness] | None = None
) -> Reached:
    """Read the live stack's host ports and render the exports for the tests."""
    assert state.engine is not None
    readiness = readiness or {}
    services = {}
    for container in state.engine.containers(ctx.project):
        r = readiness.get(container.service)
        services[container.service] = ServiceResult(r.seconds if r else None, container.host, container.ports)
    if not services:
        raise InfrastructureError(
            f"no containers found for project {ctx.project}",
            hint="start the stack with `ci-toolkit stack up`",
        )
    exports = endpoints.render_exports(ctx.config, services, state.env)
    REDACTOR.add_sensitive_env(exports)  # a DATABASE_URL's password, a token-named export
    return Reached(services=services, env={**state.env, **exports})


def migrate(ctx: RunContext, state: RunState) -> Migrated:
    mig = ctx.config.migrations
    if mig is None:
        return Migrated("skipped: no [migrations] in config")
    if state.warm:
        return Migrated("skipped: the reused stack is migrated (identity unchanged)")
    env = {**state.env, **(state.secrets if ctx.config.secrets.migrations else {})}
    dsn = endpoints.render_dsn(mig.dsn, ctx.config, state.services, env)
    result = migrations.apply(
        dsn,
        mig.directory,
        mig.table,
        timeout=ctx.config.timeouts.migrate,
        on_applied=lambda name, s: ctx.reporter.info(f"    applied {name} in {s:.2f}s"),
    )
    detail = f"{len(result.applied)} applied, {len(result.skipped)} already applied"
    return Migrated(detail, migrations_applied=result.applied)


def snapshot(ctx: RunContext, state: RunState) -> SnapshotSaved:
    """--snapshot: save the migrated data when this run did not start from an up-to-date snapshot."""
    return snapshots.save(ctx, state)


def reset(ctx: RunContext, state: RunState) -> ResetDone:
    """--reuse: a reused stack back to "just migrated"; a fresh one's baseline taken for next time."""
    return leasing.reset_or_baseline(ctx, state)


def test(ctx: RunContext, state: RunState) -> Tested:
    engine = state.engine
    assert engine is not None
    baseline = {c.service: c for c in engine.containers(ctx.project)}  # containers as the tests start
    checked = frozenset(s.name for s in ctx.config.services)
    events = state.events
    signalled = events.was_signalled if events is not None else (lambda container_id: False)
    worker_env = workers.prepare(ctx, state)  # each xdist worker's own databases and exports
    forked = leasing.take_prestarted(ctx, state)
    if forked is not None:
        ctx.reporter.info("    pytest forked ahead from the lease's warm interpreter")
    test_run = pytest_run.run(
        ctx.config.pytest,
        {**ctx.tests_env(state.env, state.secrets), **sharding.test_env(ctx), **worker_env},
        ctx.run_dir,
        cwd=ctx.config.root,
        timeout=ctx.config.timeouts.test,
        extra_args=ctx.options.pytest_args,
        workers=ctx.options.workers,
        test_timeout=ctx.options.test_timeout,
        on_line=ctx.reporter.test_output,
        watch=lambda: health.watch(engine, ctx.project, baseline, checked, signalled),
        forked=forked,
    )
    if test_run.exit_code != 0:
        # Failed tests may be the symptom: a service (or the engine) that died as the last tests
        # ran, before the periodic watch looked, is named as the cause.
        health.watch(engine, ctx.project, baseline, checked, signalled)
    recorded = sharding.update_ledger(ctx)
    if recorded:
        ctx.reporter.info(f"    {recorded}")
    c = test_run.counts
    detail = c.describe()
    kept = test_run.shard
    if kept is not None:
        detail = f"shard {kept['shard']}: {kept['selected']} of {kept['tests']} tests; {detail}"
    return Tested(detail, test_run=test_run, baseline=baseline)


def collect(ctx: RunContext, state: RunState, *, evidence: bool) -> Product:
    """Service logs and state, before teardown removes them; `evidence` adds `compose ps`."""
    if state.stack is None:
        return Product()
    problems = artifacts.collect_stack(ctx.run_dir, state.stack, state.engine, compose_ps=evidence)
    return Product("; ".join(problems))


def down(ctx: RunContext, state: RunState) -> Product:
    """compose down, then anything still labelled with the project. An engine that is gone
    (stopped, restarting) is waited for, up to timeouts.down, before giving up with the command
    that removes the stack later."""
    assert state.stack is not None
    engine = state.engine
    budget = ctx.config.timeouts.down
    started = time.monotonic()
    if engine is not None and not engine.reachable():
        _wait_for_engine(ctx, state, engine, budget)
    try:
        compose.down(state.stack, timeout=budget, force=ctx.guard.force)
    except CommandError:
        if engine is None or engine.reachable():
            raise
        _wait_for_engine(ctx, state, engine, max(budget - (time.monotonic() - started), 1.0))
        compose.down(state.stack, timeout=budget, force=ctx.guard.force)
    finally:
        # The safety net: whatever compose missed (a container created while `up` was
        # being killed, one started outside compose with the project's label) goes by label.
        left = remove_leftovers(engine, ctx.project) if engine is not None and engine.reachable() else {}
    missed = {kind: len(ids) for kind, ids in left.items() if ids}
    return Product(f"removed after compose down: {missed}" if missed else "")


def _wait_for_engine(ctx: RunContext, state: RunState, engine: Engine, seconds: float) -> None:
    assert state.stack is not None
    ctx.reporter.warn(f"the Docker engine is not answering; waiting up to {seconds:g}s for it to come back")
    back = wait_until_reachable(
        engine,
        seconds,
        lambda elapsed: ctx.reporter.info(
            f"    still waiting for the Docker engine ({elapsed:.0f}s of {seconds:g}s)"
        ),
    )
    if back:
        ctx.reporter.info("    the Docker engine is back; removing the stack")
        return
    command = shlex.join(state.stack.command("down", "--volumes", "--remove-orphans"))
    raise EngineLost(
        f"the Docker engine did not come back within {seconds:g}s (timeouts.down), so the stack "
        f"{ctx.project} is still there; once the engine is back, remove it with:\n    {command}\n"
        f"  or, from {ctx.config.root}:  ci-toolkit stack down --project {ctx.project}",
        hint="start the engine (Docker Desktop, `sudo systemctl start docker`), then run the command above",
    )
