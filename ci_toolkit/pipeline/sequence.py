"""Tier 2: the integration run as a visible sequence of timed steps.

    validate -> up -> ready -> migrate -> test      (stops at the first failure)
    collect -> down                                 (always, in `finally`)

Every exit path, including a signal, produces a `RunResult`.
"""

from __future__ import annotations

import importlib
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ci_toolkit.config.loader import Config
from ci_toolkit.errors import (
    CiToolkitError,
    ExitCode,
    InfrastructureError,
    Interrupted,
)
from ci_toolkit.output.console import Reporter
from ci_toolkit.pipeline import artifacts, checks, diagnostics, migrations, outcome
from ci_toolkit.pipeline import endpoints as endpoints_mod
from ci_toolkit.pipeline import pytest_run as testrun
from ci_toolkit.redact import REDACTOR
from ci_toolkit.results.model import PhaseResult, RunResult, ServiceResult
from ci_toolkit.signals import SignalGuard
from ci_toolkit.stack import compose, health, prune
from ci_toolkit.stack.engine import ContainerState, Engine, EventRecorder, remove_leftovers


@dataclass(frozen=True)
class RunOptions:
    keep: bool = False
    pytest_args: tuple[str, ...] = ()
    artifacts_dir: Path | None = None
    project: str | None = None
    diagnostics: str = "on-failure"  # on-failure | always
    prune_ttl_hours: float = prune.DEFAULT_TTL_HOURS
    secrets_from_env: bool = False  # take [secrets] from the environment instead of SSM
    secrets_file: Path | None = None  # ... or from a .env-style file
    # For compose interpolation and the tests, over os.environ: a matrix cell, a soak iteration.
    env: dict[str, str] = field(default_factory=dict)
    suite: str | None = None  # the suite's -m and args are already in pytest_args (selection.apply)
    workers: str | None = None  # pytest-xdist -n: a number, auto or logical
    test_timeout: float | None = None  # pytest-timeout, per test


@dataclass(frozen=True)
class StepOutcome:
    """What a step returns when plain "ok + detail" does not say it (tests ran and failed)."""

    detail: str
    status: str = "ok"


Step = Callable[["Run"], "str | StepOutcome | None"]


@dataclass
class Run:
    """The mutable state of one run, shared by its steps."""

    config: Config
    options: RunOptions
    reporter: Reporter
    guard: SignalGuard
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    project: str = ""
    run_dir: Path = Path()
    env: dict[str, str] = field(default_factory=dict)
    model: dict[str, Any] | None = None
    stack: compose.Stack | None = None
    engine: Engine | None = None
    up_started: float | None = None
    services: dict[str, ServiceResult] = field(default_factory=dict)
    test_run: testrun.TestRun | None = None
    phases: list[PhaseResult] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # for the tests only: never compose, state, disk
    events: EventRecorder | None = None
    baseline: dict[str, ContainerState] = field(default_factory=dict)  # containers when tests start
    failure: BaseException | None = None

    def __post_init__(self) -> None:
        self.project = self.options.project or make_project_name(self.config, self.run_id)
        root = self.options.artifacts_dir or self.config.artifacts_dir
        self.run_dir = (root / self.project).resolve()

    def timed(self, name: str, step: Step) -> None:
        self.reporter.phase_start(name)
        started = time.monotonic()
        status, detail = "failed", ""
        try:
            with self.guard.step():
                outcome = step(self) or ""
            if isinstance(outcome, StepOutcome):
                status, detail = outcome.status, outcome.detail
            else:
                detail = outcome
                status = "skipped" if detail.startswith("skipped") else "ok"
        except (Interrupted, KeyboardInterrupt):
            status = "interrupted"
            raise
        finally:
            phase = PhaseResult(name, status, time.monotonic() - started, detail)
            self.phases.append(phase)
            self.reporter.phase_end(phase)


def make_project_name(config: Config, run_id: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in config.root.name.lower()).strip("-")[:20] or "run"
    return f"{config.project_prefix}-{slug}-{run_id}"


# -- steps -------------------------------------------------------------------------------


def validate(run: Run) -> str:
    # Connecting to the engine imports the docker SDK (~0.3 s): overlap it with compose.
    engine_box: list[Engine | CiToolkitError] = []
    connector = threading.Thread(target=_connect_into, args=(engine_box,), daemon=True)
    connector.start()
    # Values of required and credential-looking variables can reach container inspect output
    # and recorded commands: the redaction filter learns them before anything is written.
    REDACTOR.add_sensitive_env({**os.environ, **run.options.env}, run.config.required_env)
    _preload(run)
    findings = checks.Findings()
    try:
        run.env = checks.check_env(run.config, {**os.environ, **run.options.env}).values
    except CiToolkitError as exc:
        findings.add(exc)
        run.env = checks.resolve_env(run.config).values
    run.env.update(run.options.env)
    run.model = checks.check_config(run.config, run.env, findings)
    connector.join()
    if isinstance(engine_box[0], CiToolkitError):
        findings.add(engine_box[0])
    else:
        run.engine = engine_box[0]
    findings.raise_if_any()
    sweep(run)
    return f"{len(run.config.services)} service checks, compose {run.config.compose_files[0].name}"


def _preload(run: Run) -> None:
    """Import what later steps need (boto3 ~0.1 s, psycopg ~0.07 s) while compose validates."""
    modules = []
    if run.config.secrets.configured and not (run.options.secrets_from_env or run.options.secrets_file):
        modules.append("boto3")
    if run.config.migrations is not None:
        modules.append("psycopg")
    if modules:
        threading.Thread(target=lambda: [importlib.import_module(m) for m in modules], daemon=True).start()


def _connect_into(box: list[Engine | CiToolkitError]) -> None:
    try:
        box.append(Engine.connect())
    except CiToolkitError as exc:
        box.append(exc)


def sweep(run: Run) -> None:
    """Remove stacks left by runs that died (SIGKILL, OOM, a crashed runner) before starting ours."""
    assert run.engine is not None
    for decision in prune.prune(run.engine, run.options.prune_ttl_hours, exclude=run.project):
        if decision.stale:
            run.reporter.warn(f"removed stale stack {decision.stack.project}: {decision.reason}")


def fetch_secrets(run: Run) -> str:
    """[secrets] from SSM (or --secrets-from-env / --secrets-file), before any container starts."""
    from ci_toolkit import secret_store

    run.secrets, detail = secret_store.fetch_for_run(
        run.config,
        from_env=run.options.secrets_from_env,
        file=run.options.secrets_file,
        reporter=run.reporter,
    )
    return detail


def up(run: Run) -> str:
    assert run.model is not None and run.engine is not None
    labels = compose.owner_labels(run.run_id, keep=run.options.keep)
    override = compose.write_owner_override(run.run_dir / "compose.owner.json", run.model, labels)
    run.stack = compose.Stack(
        run.project,
        (*run.config.compose_files, override),
        run.config.profiles,
        run.config.root,
        dict(run.env),
    )
    run.up_started = time.monotonic()
    run.events = EventRecorder(run.engine, run.project).start()
    compose.up(run.stack, timeout=run.config.timeouts.up, model=run.model)
    return f"project {run.project}"


def ready(run: Run) -> str:
    assert run.engine is not None and run.stack is not None and run.up_started is not None
    checks_by_name = {c.name: c for c in run.config.services}
    run.reporter.services_waiting(sorted(checks_by_name))
    try:
        readiness = health.wait_ready(
            run.engine,
            run.project,
            checks_by_name,
            started=run.up_started,
            timeout=run.config.timeouts.ready,
            on_ready=lambda r: run.reporter.service_ready(r.service, r.seconds),
        )
    finally:
        run.reporter.services_done()
    discover(run, readiness)
    slowest = max(readiness.values(), key=lambda r: r.seconds, default=None)
    return f"slowest: {slowest.service} {slowest.seconds:.2f}s" if slowest else ""


def discover(run: Run, readiness: dict[str, health.Readiness] | None = None) -> None:
    """Read the live stack's host ports and render the exports for the tests."""
    assert run.engine is not None
    readiness = readiness or {}
    for state in run.engine.containers(run.project):
        ports = {cport: hport for cport, (_, hport) in state.ports.items()}
        host = next(iter(state.ports.values()), ("127.0.0.1", 0))[0]
        r = readiness.get(state.service)
        run.services[state.service] = ServiceResult(r.seconds if r else None, host, ports)
    found = endpoints_mod.of(run.services)
    if not found:
        raise InfrastructureError(
            f"no containers found for project {run.project}",
            hint="start the stack with `ci-toolkit stack up`",
        )
    run.env.update(endpoints_mod.render_exports(run.config, found, run.env))


def migrate(run: Run) -> str:
    mig = run.config.migrations
    if mig is None:
        return "skipped: no [migrations] in config"
    env = {**run.env, **(run.secrets if run.config.secrets.migrations else {})}
    dsn = endpoints_mod.render_dsn(mig.dsn, run.config, run.services, env)
    result = migrations.apply(
        dsn,
        mig.directory,
        mig.table,
        timeout=run.config.timeouts.migrate,
        on_applied=lambda name, s: run.reporter.info(f"    applied {name} in {s:.2f}s"),
    )
    return f"{len(result.applied)} applied, {len(result.skipped)} already applied"


def test(run: Run) -> StepOutcome:
    engine = run.engine
    assert engine is not None
    run.baseline = {c.service: c for c in engine.containers(run.project)}
    checked = frozenset(s.name for s in run.config.services)
    run.test_run = testrun.run(
        run.config.pytest,
        {**run.env, **run.secrets, "CI_TOOLKIT_PROJECT": run.project, "CI_TOOLKIT_RUN_DIR": str(run.run_dir)},
        run.run_dir,
        cwd=run.config.root,
        timeout=run.config.timeouts.test,
        extra_args=run.options.pytest_args,
        workers=run.options.workers,
        test_timeout=run.options.test_timeout,
        on_line=run.reporter.test_output,
        watch=lambda: health.watch(engine, run.project, run.baseline, checked),
    )
    c = run.test_run.counts
    detail = f"{c.passed} passed, {c.failed} failed, {c.errors} errors, {c.skipped} skipped"
    return StepOutcome(detail, "failed" if run.test_run.exit_code != 0 else "ok")


def collect(run: Run) -> str:
    problems: list[str] = []
    if run.stack is not None:
        evidence = run.failure is not None or run.options.diagnostics == "always"
        problems = artifacts.collect_stack(run.run_dir, run.stack, run.engine, compose_ps=evidence)
    return "; ".join(problems)


def down(run: Run) -> str:
    assert run.stack is not None
    try:
        compose.down(run.stack, timeout=run.config.timeouts.down, force=run.guard.force)
    finally:
        # The safety net: whatever compose missed (a container created while `up` was
        # being killed) is removed by label.
        left = remove_leftovers(run.engine, run.project) if run.engine is not None else {}
    missed = {kind: len(ids) for kind, ids in left.items() if ids}
    return f"removed after compose down: {missed}" if missed else ""


STEPS: tuple[tuple[str, Step], ...] = (
    ("validate", validate),
    ("secrets", fetch_secrets),
    ("up", up),
    ("ready", ready),
    ("migrate", migrate),
    ("test", test),
)


def execute(run: Run) -> RunResult:
    failure: BaseException | None = None
    try:
        for name, step in STEPS:
            run.timed(name, step)
        run.guard.raise_if_received()  # a signal after the last step still counts
    except (Exception, KeyboardInterrupt) as exc:
        failure = run.failure = exc
    finally:
        run.guard.teardown()
        _safely(run, "collect", collect)
        if run.stack is not None:
            if run.options.keep and failure is None:
                keep(run)
            else:
                teardown_error = _safely(run, "down", down)
                if teardown_error is not None and failure is None:
                    failure = teardown_error
    if run.events is not None:
        run.events.stop()
    if failure is None and run.guard.received is not None:
        failure = Interrupted(run.guard.received)  # it came while teardown was being entered
    run.failure = failure
    result = outcome.build_result(run, failure)
    artifacts.write_json(run.run_dir / "run.json", result.to_dict())
    if result.exit_code != ExitCode.OK or run.options.diagnostics == "always":
        _safely_write_diagnostics(run, result)
    return result


def _safely_write_diagnostics(run: Run, result: RunResult) -> None:
    try:
        diagnostics.write_bundle(run, result)
    except Exception as exc:  # never let the evidence writer hide the run's outcome
        run.reporter.warn(f"could not write the whole diagnostics bundle: {exc}")


def _safely(run: Run, name: str, step: Step) -> BaseException | None:
    try:
        run.timed(name, step)
    except (Exception, KeyboardInterrupt) as exc:
        run.reporter.error(f"{name}: {exc}")
        return exc
    return None


def keep(run: Run) -> None:
    """Leave the stack up, record it for tier-3 commands, and say how to reach and remove it."""
    assert run.stack is not None
    import shlex

    from ci_toolkit.pipeline import saved_stack as state

    state.save(
        state.path_for(run.config, run.options.artifacts_dir),
        state.SavedStack(replace(run.stack, env=dict(run.config.env_defaults)), run.run_id),
    )
    run.reporter.line("stack kept running (--keep):", always=True)
    for line in endpoints_mod.describe(run.config, run.services, run.env):
        run.reporter.line(line, always=True)
    run.reporter.line("tear it down with:  ci-toolkit stack down", always=True)
    run.reporter.line(
        f"  or:  {shlex.join(run.stack.command('down', '--volumes', '--remove-orphans'))}", always=True
    )
