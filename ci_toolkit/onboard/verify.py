"""The check init ends with: what `ci-toolkit config check` runs (the config parsed and validated,
the compose files resolved by compose itself), on the config init wrote."""

from __future__ import annotations

from pathlib import Path

from ci_toolkit.config import loader
from ci_toolkit.pipeline import checks


def config_check(config_path: Path) -> tuple[str, ...]:
    """Raise ConfigError (naming the file and key) unless the config checks; the compose
    services it resolved otherwise."""
    config = loader.load(config_path.parent, explicit=config_path)
    findings = checks.Findings()
    model = checks.check_config(config, checks.resolve_env(config).values, findings)
    findings.raise_if_any()
    return tuple(sorted((model or {}).get("services", {})))
