"""The steps' side of a lease (`--reuse`): is the kept stack reusable as it is, one probe round,
the reset to "just migrated", and what teardown does with it.

A lease is reused only when its identity is unchanged, its last run got as far as the tests
(the baseline exists), and every service's container is still there. Anything else and the old
stack is removed first and the run starts fresh; the output says which part changed.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ci_toolkit.errors import CiToolkitError, InfrastructureError
from ci_toolkit.pipeline import checks, endpoints, migrations, pytest_run, runner
from ci_toolkit.pipeline.context import RunContext, artifacts_root, process_env
from ci_toolkit.pipeline.state import ResetDone, RunState, Upped
from ci_toolkit.results.model import ServiceResult
from ci_toolkit.reuse import identity, reset, zygote
from ci_toolkit.reuse.lease import LeaseRecord
from ci_toolkit.stack import compose, probes, selection
from ci_toolkit.stack.engine import Engine, remove_leftovers

PROBE_TIMEOUT = 2.0  # one round, no retries: a warm service answers in milliseconds or is broken


@dataclass(frozen=True)
class Prestarted:
    """A pytest forked from the lease's zygote at the start of the run, waiting at its gate, and
    the endpoints its environment was rendered from (the lease's, as recorded)."""

    child: zygote.ForkedPytest
    services: Mapping[str, ServiceResult]


def prestart(ctx: RunContext) -> Prestarted | None:
    """When this run will probably be warm, fork its pytest now: its start-up (plugins,
    coverage) overlaps the checks and the reset. It runs no test until `take_prestarted` says
    the stack is the recorded one, reset."""
    found = ctx.lease.found if ctx.lease is not None else None
    if ctx.lease is None or found is None or found.baseline is None or not found.services:
        return None
    # Only ci-toolkit's own interpreter has a zygote (uv run, another venv's python or interpreter
    # flags: pytest is started the ordinary way).
    if not runner.resolve(ctx.config.pytest, ctx.config.root).forkable:
        return None
    services = {
        name: ServiceResult(None, str(data["host"]), {int(k): int(v) for k, v in data["ports"].items()})
        for name, data in found.services.items()
    }
    env = {**checks.resolve_env(ctx.config).values, **ctx.options.env}
    env = {**env, **endpoints.render_exports(ctx.config, services, env)}
    prepared = pytest_run.prepare(
        ctx.config.pytest,
        ctx.tests_env(env, {}),
        ctx.run_dir,
        root=ctx.config.root,
        extra_args=ctx.options.pytest_args,
        workers=ctx.options.workers,
        test_timeout=ctx.options.test_timeout,
    )
    cmd = prepared.command
    # cmd is `python -m pytest ...` (forkable: no interpreter flags): that interpreter's zygote runs the rest.
    child = zygote.fork(ctx.lease.name, cmd[0], cmd[3:], ctx.config.root, process_env(prepared.env))
    return Prestarted(child, services) if child is not None else None


def take_prestarted(ctx: RunContext, state: RunState) -> zygote.ForkedPytest | None:
    """The forked pytest, if this run is warm on the very endpoints it was forked for; else it is
    told to exit (it has run nothing) and None."""
    pre = state.prestarted
    if pre is None:
        return None
    same = {n: s.ports for n, s in pre.services.items()} == {n: s.ports for n, s in state.services.items()}
    if state.warm and same and pre.child.poll() is None:
        return pre.child
    pre.child.cancel()
    return None


def cancel_prestarted(state: RunState) -> None:
    """Teardown: a forked pytest that never got its go exits without running a test."""
    if state.prestarted is not None and state.test_run is None:
        state.prestarted.child.cancel()


def identity_for(
    ctx: RunContext, env: Mapping[str, str], model: Mapping[str, Any], engine: Engine
) -> identity.Identity | None:
    """The stack's identity, when a lease or a snapshot needs it."""
    if ctx.lease is None and not ctx.options.snapshot:
        return None
    files = migrations.discover(ctx.config.migrations.directory) if ctx.config.migrations else []
    found = ctx.lease.found if ctx.lease is not None else None
    salt = found.identity.salt if found is not None else None  # same salt: changed variables are named
    applied = [(m.name, m.checksum()) for m in files]
    skip = [artifacts_root(ctx.options.artifacts_dir, ctx.config).resolve()]  # rewritten by every run

    def compute() -> identity.Identity:
        return identity.compute(
            model, engine, applied, env, config=_config_part(ctx), salt=salt, skip_dirs=skip
        )

    ident = compute()
    absent = identity.absent_images(ident)
    if absent:  # a fresh runner: the key must pin the images `up` will run, so get them first
        services = [
            n for n, s in model.get("services", {}).items() if s.get("image") in absent and not s.get("build")
        ]
        try:
            compose.pull(
                ctx.config.compose_files,
                ctx.config.profiles,
                ctx.config.root,
                env,
                services,
                timeout=ctx.config.timeouts.up,
            )
            ident = compute()
        except InfrastructureError as exc:
            ctx.reporter.warn(
                f"{exc.message}; the identity does not pin those images: no snapshot is used or saved"
            )
    return ident


def _config_part(ctx: RunContext) -> dict[str, Any]:
    """What of the ci-toolkit config shapes the migrated state or how it is reached."""
    mig = ctx.config.migrations
    return {
        "migrations": None
        if mig is None
        else {"dsn": mig.dsn, "table": mig.table, "dir": str(mig.directory)},
        "services": [{**c.to_dict(), "password": c.password} for c in ctx.config.services],
        "export": dict(ctx.config.export),
    }


def reuse_or_replace(ctx: RunContext, state: RunState) -> Upped:
    """`warm` when the lease's stack can be reused as it is; otherwise whatever stands under the
    lease's name is removed, and `lease_changes` says why."""
    assert ctx.lease is not None and state.engine is not None and state.identity is not None
    assert state.stack is not None and state.model is not None
    found = ctx.lease.found
    containers = {c.service: c for c in state.engine.containers(ctx.project)}
    if found is None:
        if not containers:
            return Upped()  # the first run under this lease
        why = ["it has no lease record (was the state directory cleared?)"]
    elif found.baseline is None:
        why = ["its last run stopped before the tests"]
    elif found.identity.key != state.identity.key:
        why = state.identity.changes(found.identity) or ["its identity changed"]
    else:
        gone = [
            name
            for name in state.model.get("services", {})
            if name not in containers
            or not (containers[name].status == "running" or containers[name].exit_code == 0)
        ]
        if not gone:
            return Upped(f"reused lease {ctx.project} (identity unchanged)", warm=True)
        why = [f"the container of {', '.join(sorted(gone))} is gone or stopped (removed outside ci-toolkit?)"]
    ctx.reporter.warn(f"lease {ctx.project}: {'; '.join(why)}; replacing it with a fresh stack")
    compose.down(state.stack, timeout=ctx.config.timeouts.down)
    remove_leftovers(state.engine, ctx.project)  # volumes of an older model compose no longer names
    ctx.lease.forget()
    return Upped(lease_changes=tuple(why))


def probe_once(
    ctx: RunContext, services: Mapping[str, ServiceResult], model: Mapping[str, Any] | None
) -> None:
    """One probe round for a reused stack, all services at once; no waiting."""
    configured = selection.run_checks(ctx.config.services, model)
    checks = [c for c in configured.values() if c.name in services]

    def attempt(check: Any) -> str | None:
        s = services[check.name]
        try:
            probes.probe(check, s.host, s.ports, PROBE_TIMEOUT)
        except probes.NotReady as exc:
            return f"{check.name}: {exc}"
        return None

    with ThreadPoolExecutor(max_workers=max(1, len(checks))) as pool:
        failed = [f for f in pool.map(attempt, checks) if f]
    missing = [name for name in configured if name not in services]
    failed += [f"{name}: no container" for name in missing]
    if failed:
        raise InfrastructureError(
            f"the reused stack {ctx.project} does not answer: " + "; ".join(failed),
            hint="the lease is removed; run again for a fresh stack",
        )


def reset_or_baseline(ctx: RunContext, state: RunState) -> ResetDone:
    """Warm: back to the baseline. Fresh: take the baseline (right after migrations) and record
    the lease, which makes it reusable."""
    lease = ctx.lease
    if lease is None:
        return ResetDone("skipped: no lease")
    assert state.stack is not None and state.identity is not None
    timeout = ctx.config.timeouts.migrate
    if state.warm:
        assert lease.found is not None and lease.found.baseline is not None
        notes = reset.reset(
            list(selection.run_checks(ctx.config.services, state.model).values()),  # with credentials
            state.services,
            reset.Baseline.from_dict(lease.found.baseline),
            state.stack,
            timeout=timeout,
            on_reset=lambda name, what, s: ctx.reporter.info(f"    {name}: {what} in {s:.2f}s"),
        )
        for note in notes:
            ctx.reporter.info(f"    {note}")
        return ResetDone("state reset to just migrated", lease_ready=True)
    started = list(selection.run_checks(ctx.config.services, state.model).values())
    baseline = reset.take_baseline(started, state.services, timeout=timeout)
    services = {name: s.to_dict() for name, s in state.services.items()}
    lease.save(LeaseRecord(ctx.project, str(ctx.config.root), state.identity, baseline.to_dict(), services))
    return ResetDone("baseline taken: the next --reuse run starts from here", lease_ready=True)


def keep(ctx: RunContext) -> None:
    assert ctx.lease is not None
    # The next warm run swaps in a spare copy of the template, made in the background after this
    # run's reset; let it finish (it usually has, during the tests) before the process exits.
    reset.wait_for_background(timeout=10.0)
    ctx.lease.touch()
    if _forkable(ctx):  # the next warm run forks its pytest from a warm interpreter
        started = zygote.start(ctx.lease.name, sys.executable, process_env(), ctx.config.root)
        if not started:
            ctx.reporter.warn(
                "the warm pytest for the lease did not start; the next run starts pytest as usual"
            )
    say = ctx.reporter.line
    say(f"lease kept: {ctx.project} (the next `integration-run --reuse` reuses it)", always=True)
    say("remove it with:  ci-toolkit stack down --lease", always=True)


def _forkable(ctx: RunContext) -> bool:
    try:
        return runner.resolve(ctx.config.pytest, ctx.config.root).forkable
    except CiToolkitError:  # the test step has said what is wrong with the runner
        return False


def result_info(ctx: RunContext, state: RunState) -> dict[str, Any] | None:
    if not ctx.options.reuse:
        return None
    return {
        "lease": ctx.lease.name if ctx.lease is not None else None,
        "warm": state.warm,
        "changed": list(state.lease_changes),
        "kept": state.lease_ready,
        **({} if ctx.lease is not None else {"reason": "the lease is in use by another run"}),
    }
