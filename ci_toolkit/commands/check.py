"""`ci-toolkit config check` and `ci-toolkit env check`: validation alone, nothing started."""

from __future__ import annotations

import os

from ci_toolkit.commands.common import CommonOptions, emit_json
from ci_toolkit.pipeline import checks


def config_check(opts: CommonOptions) -> int:
    config = opts.load_config()
    reporter = opts.reporter()
    findings = checks.Findings()
    env = checks.resolve_env(config).values
    model = checks.check_config(config, env, findings)
    findings.raise_if_any()
    services = sorted((model or {}).get("services", {}))
    reporter.line(f"{config.source}: ok")
    reporter.line(
        f"  compose: {', '.join(str(f.relative_to(config.root)) for f in config.compose_files)}"
        f" ({len(services)} services: {', '.join(services)})"
    )
    for svc in config.services:
        reporter.line(
            f"  check {svc.name}: {svc.kind} on container port {svc.port}, timeout {svc.timeout:g}s"
        )
    if opts.json_mode:
        emit_json({"status": "ok", "config": config.to_dict(), "compose_services": services})
    return 0


def env_check(opts: CommonOptions) -> int:
    config = opts.load_config()
    reporter = opts.reporter()
    resolved = checks.resolve_env(config)
    for name in config.required_env:
        state = "MISSING" if name in resolved.missing else "set"
        reporter.line(f"  {name}: {state}")
    for name in config.env_defaults:
        origin = "set" if name in os.environ else "default"
        reporter.line(f"  {name}: {origin}")
    if opts.json_mode:
        emit_json(
            {
                "status": "ok" if not resolved.missing else "env_error",
                "missing": list(resolved.missing),
                "required": list(config.required_env),
                "defaults": sorted(config.env_defaults),
            }
        )
    checks.check_env(config)
    reporter.line("environment: ok")
    return 0
