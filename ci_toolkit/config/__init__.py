"""The settings layer: `[tool.ci-toolkit]` / `ci-toolkit.toml` loaded once into frozen dataclasses.

`model` holds the dataclasses and their defaults; `loader` finds, reads and validates the
file; `schema` holds the checking helpers; `templates`, `suites`, `matrix`, `secret_params`
and `soak_settings` parse their own tables.
"""

from __future__ import annotations

from ci_toolkit.config.loader import find_config, load, parse
from ci_toolkit.config.model import (
    DEFAULT_ARTIFACTS_DIR,
    DEFAULT_PORTS,
    DEFAULT_PROJECT_PREFIX,
    KIND_KEYS,
    SERVICE_KINDS,
    Config,
    MigrationsConfig,
    PytestConfig,
    ServiceCheck,
    Timeouts,
)

__all__ = [
    "DEFAULT_ARTIFACTS_DIR",
    "DEFAULT_PORTS",
    "DEFAULT_PROJECT_PREFIX",
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
