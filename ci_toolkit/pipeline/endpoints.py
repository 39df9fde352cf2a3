"""Where the live stack's services are, and the strings built from that: the exports for the
tests, the migrations DSN, and the lines that tell a user how to reach a kept stack."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from ci_toolkit.config import Config, templates
from ci_toolkit.errors import ConfigError, MigrationError
from ci_toolkit.pipeline.context import process_env
from ci_toolkit.results.model import ServiceResult


def render_exports(
    config: Config,
    services: Mapping[str, templates.Reachable],
    env: Mapping[str, str],
    worker: templates.Worker = templates.MAIN,
) -> dict[str, str]:
    """The `[export]` table rendered in order (a later export may use an earlier one), for one
    pytest process: `main` (the ordinary environment) or an xdist worker (`pipeline.workers`)."""
    exports: dict[str, str] = {}
    for name, template in config.export.items():
        try:
            exports[name] = _render(template, config, services, env, exports, worker)
        except templates.TemplateError as exc:
            raise ConfigError(f"{config.source}: export.{name}: {exc}") from None
    return exports


def render_dsn(
    template: str, config: Config, services: Mapping[str, ServiceResult], env: Mapping[str, str]
) -> str:
    """`migrations.dsn` against the live stack; `env` holds the exports (and secrets if allowed)."""
    try:
        return _render(template, config, services, env, env)
    except templates.TemplateError as exc:
        raise MigrationError(f"{config.source}: migrations.dsn: {exc}") from None


def _render(
    template: str,
    config: Config,
    services: Mapping[str, templates.Reachable],
    env: Mapping[str, str],
    exports: Mapping[str, str],
    worker: templates.Worker | None = None,  # None: ci-toolkit's own connection, never per worker
) -> str:
    return templates.render(
        template,
        endpoints=services,
        default_ports=config.default_ports(),
        env=process_env(env),
        exports=exports,
        worker=worker,
    )


def describe(config: Config, services: Mapping[str, ServiceResult], env: Mapping[str, str]) -> list[str]:
    """How to reach each service from the host, and the exports as shell lines."""
    lines = []
    for name, svc in sorted(services.items()):
        ports = (
            ", ".join(f"{c}->{svc.host}:{h}" for c, h in sorted(svc.ports.items())) or "no published ports"
        )
        lines.append(f"  {name}: {ports}")
    lines += [f"  export {name}={shlex.quote(env[name])}" for name in config.export if name in env]
    return lines
