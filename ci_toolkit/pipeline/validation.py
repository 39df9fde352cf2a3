"""What the validate step does: config, environment and compose checked all at once, the engine
connected meanwhile, the stack's identity (for --reuse / --snapshot), and the sweep of stacks left
by runs that died."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Mapping
from typing import Any

from ci_toolkit.config import Config, templates
from ci_toolkit.errors import CiToolkitError, ConfigError
from ci_toolkit.pipeline import checks, leasing, runner
from ci_toolkit.pipeline.context import RunContext, process_env
from ci_toolkit.pipeline.state import Validated
from ci_toolkit.redact import REDACTOR
from ci_toolkit.reuse import lease
from ci_toolkit.stack import ownership, prune, selection
from ci_toolkit.stack.engine import Engine


def validate(ctx: RunContext, prestarted: leasing.Prestarted | None) -> Validated:
    # Connecting to the engine imports the docker SDK (~0.3 s): overlap it with compose.
    engine_box: list[Engine | CiToolkitError] = []
    connector = threading.Thread(target=_connect_into, args=(engine_box,), daemon=True)
    connector.start()
    environ = process_env(ctx.options.env)
    # Values of required and credential-looking variables can reach container inspect output
    # and recorded commands: the redaction filter learns them before anything is written.
    REDACTOR.add_sensitive_env(environ, ctx.config.required_env)
    _preload(ctx)
    findings = checks.Findings()
    try:
        env = checks.check_env(ctx.config, environ).values
    except CiToolkitError as exc:
        findings.add(exc)
        env = checks.resolve_env(ctx.config).values
    env = {**env, **ctx.options.env}
    try:  # a runner whose tool is missing (uv not on PATH) is said before anything starts
        runner.resolve(ctx.config.pytest, ctx.config.root)
    except CiToolkitError as exc:
        findings.add(exc)
    model = checks.check_config(ctx.config, env, findings)
    if model is not None:
        for problem in check_start(ctx.config, model):
            findings.add(problem)
    connector.join()
    engine: Engine | None = None
    if isinstance(engine_box[0], CiToolkitError):
        findings.add(engine_box[0])
    else:
        engine = engine_box[0]
    findings.raise_if_any()
    assert engine is not None
    # Before anything is swept or started: `up --remove-orphans` and teardown would delete
    # whatever another user's compose project of this name holds.
    ownership.refuse_foreign(engine, ctx.project)
    sweep(ctx, engine)
    detail = f"{len(ctx.config.services)} service checks, compose {ctx.config.compose_files[0].name}"
    if model is not None:  # from here on the model is the stack as it will run (see stack.selection)
        model = selection.effective(model, ctx.config.start, ctx.config.ports)
        chosen = selection.started(model)
        detail += f", starting {', '.join(chosen)}" if chosen else ""
        detail += ", ports on 127.0.0.1 (dynamic)" if selection.dynamic_ports(model) else ""
    identity = leasing.identity_for(ctx, env, model, engine) if model is not None else None
    return Validated(detail, env=env, model=model, engine=engine, identity=identity, prestarted=prestarted)


def check_start(config: Config, model: Mapping[str, Any]) -> list[CiToolkitError]:
    """`start` (or --service) names compose services; what the run renders from the stack (the
    exports, the migrations DSN) needs only services that will be started."""
    if not config.start:
        return []
    if selection.unknown(model, config.start):
        return [selection.unknown_error(model, config.start, config.compose_files, config.source)]
    started = set(selection.closure(model, config.start))
    services = model.get("services") or {}
    templated = {f"export.{name}": t for name, t in config.export.items()}
    if config.migrations is not None:
        templated["migrations.dsn"] = config.migrations.dsn
    problems: list[CiToolkitError] = []
    for where, template in templated.items():
        for ref in templates.refs(template):
            if ref.scope in services and ref.scope not in started:
                problems.append(
                    ConfigError(
                        f"{config.source}: {where}: {{{ref.scope}.{ref.attr}}} needs service {ref.scope}, "
                        f"which this run does not start (it starts {', '.join(sorted(started))})",
                        hint=f"add {ref.scope!r} to `start` (or --service {ref.scope})",
                    )
                )
                break
    return problems


def _preload(ctx: RunContext) -> None:
    """Import what later steps need (boto3 ~0.1 s, psycopg ~0.07 s) while compose validates."""
    modules = []
    warm = ctx.lease is not None and ctx.lease.found is not None and ctx.lease.found.baseline is not None
    from_ssm = not (ctx.options.secrets_from_env or ctx.options.secrets_file)
    if ctx.config.secrets.configured and from_ssm:
        modules.append("boto3")
    if ctx.config.migrations is not None and not warm:  # a warm run resets over pgwire, no psycopg
        modules.append("psycopg")
    if modules:
        threading.Thread(target=lambda: [importlib.import_module(m) for m in modules], daemon=True).start()


def _connect_into(box: list[Engine | CiToolkitError]) -> None:
    try:
        box.append(Engine.connect())
    except CiToolkitError as exc:
        box.append(exc)


def sweep(ctx: RunContext, engine: Engine) -> None:
    """Remove stacks left by runs that died (SIGKILL, OOM, a crashed runner) before starting ours."""
    with lease.idle_held() as leases:  # idle leases locked: none is taken while being judged
        for decision in prune.prune(engine, ctx.options.prune_ttl_hours, exclude=ctx.project, leases=leases):
            if decision.stale:
                ctx.reporter.warn(f"removed stale stack {decision.stack.project}: {decision.reason}")
                if decision.stack.project in leases:
                    lease.drop(decision.stack.project)
