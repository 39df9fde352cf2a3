"""Up-front validation: everything that can be known wrong before a container starts.

All problems are collected and reported together; the exit code is that of the most
fundamental kind found (config, then environment, then infrastructure).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ci_toolkit.config import Config, templates
from ci_toolkit.config.schema import did_you_mean
from ci_toolkit.errors import CiToolkitError, ConfigError, EnvironmentInvalid, raise_ranked
from ci_toolkit.pipeline import migrations
from ci_toolkit.stack import compose

_PRIORITY: tuple[type[CiToolkitError], ...] = (ConfigError, EnvironmentInvalid)


@dataclass(frozen=True)
class ResolvedEnv:
    values: dict[str, str]  # what the stack and the tests see on top of os.environ
    missing: tuple[str, ...]


@dataclass
class Findings:
    problems: list[CiToolkitError] = field(default_factory=list)

    def add(self, error: CiToolkitError) -> None:
        self.problems.append(error)

    def raise_if_any(self) -> None:
        raise_ranked(self.problems, _PRIORITY, "problems found before starting anything")


def resolve_env(config: Config, environ: Mapping[str, str] | None = None) -> ResolvedEnv:
    environ = os.environ if environ is None else environ
    values = {k: v for k, v in config.env_defaults.items() if k not in environ}
    missing = tuple(name for name in config.required_env if not environ.get(name) and name not in values)
    return ResolvedEnv(values, missing)


def check_env(config: Config, environ: Mapping[str, str] | None = None) -> ResolvedEnv:
    resolved = resolve_env(config, environ)
    if resolved.missing:
        names = ", ".join(resolved.missing)
        raise EnvironmentInvalid(
            f"required environment variable(s) not set: {names}",
            hint=f"export them (e.g. `export {resolved.missing[0]}=...`) "
            f"or give env.defaults in {config.source.name}",
        )
    return resolved


def check_config(config: Config, env: Mapping[str, str], findings: Findings) -> dict[str, Any] | None:
    """Check the config against the compose model and the files it names."""
    model = None
    try:
        model = compose.load_model(config.compose_files, config.profiles, config.root, env)
    except CiToolkitError as exc:
        findings.add(exc)
    if model is not None:
        services = model.get("services", {})
        for check in config.services:
            if check.name not in services:
                findings.add(
                    ConfigError(
                        f"{config.source}: services.{check.name}: no such service in "
                        f"{', '.join(f.name for f in config.compose_files)}"
                        f"{did_you_mean(check.name, services)}"
                        f" (services: {', '.join(sorted(services))})"
                    )
                )
                continue
            published = compose.published_ports(model, check.name)
            wanted = [check.port] + ([check.monitor_port] if check.monitor_port else [])
            for port in wanted:
                if port not in published:
                    findings.add(
                        ConfigError(
                            f"{config.source}: services.{check.name}: container port {port} is not published",
                            hint=f'add "127.0.0.1::{port}" under services.{check.name}.ports '
                            "in the compose file",
                        )
                    )
        for name, template in config.export.items():
            for ref in templates.refs(template):
                if ref.scope not in ("env", "export") and ref.scope not in services:
                    findings.add(
                        ConfigError(
                            f"{config.source}: export.{name}: {{{ref.scope}.{ref.attr}}} names no compose "
                            f"service{did_you_mean(ref.scope, services)}"
                        )
                    )
    if config.migrations is not None:
        try:
            migrations.discover(config.migrations.directory)
        except CiToolkitError as exc:
            findings.add(exc)
    for path in config.pytest.paths:
        target = config.root / path.split("::")[0]
        if not target.exists():
            findings.add(ConfigError(f"{config.source}: pytest.paths: {path} does not exist"))
    return model
