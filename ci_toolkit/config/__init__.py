"""The settings layer: `[tool.ci-toolkit]` / `ci-toolkit.toml` loaded once into frozen dataclasses.

`loader` reads and validates the file; `schema` holds the checking helpers; `templates`,
`suites`, `matrix`, `secret_params` and `soak_settings` parse their own tables.
"""

from __future__ import annotations

from ci_toolkit.config.loader import (
    DEFAULT_PORTS,
    KIND_KEYS,
    SERVICE_KINDS,
    Config,
    MigrationsConfig,
    PytestConfig,
    ServiceCheck,
    Timeouts,
    find_config,
    load,
    parse,
)

__all__ = [
    "DEFAULT_PORTS",
    "KIND_KEYS",
    "SERVICE_KINDS",
    "Config",
    "MigrationsConfig",
    "PytestConfig",
    "ServiceCheck",
    "Timeouts",
    "find_config",
    "load",
    "parse",
]
