"""Finding, reading and validating the `[tool.ci-toolkit]` table into a `model.Config`.

Found by `discovery`: `--config PATH`, `$CI_TOOLKIT_CONFIG`, else the nearest `ci-toolkit.toml`
(top-level keys) or `pyproject.toml` (`[tool.ci-toolkit]`) up to the repository root. Every
problem in the file is reported at once, naming the file, the key and the expected type.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ci_toolkit.config import discovery, history_settings, templates
from ci_toolkit.config import matrix as matrix_mod
from ci_toolkit.config import secret_params as secrets_config
from ci_toolkit.config import soak_settings as soak_config
from ci_toolkit.config import suites as suites_mod
from ci_toolkit.config.model import (
    DEFAULT_ARTIFACTS_DIR,
    DEFAULT_PORTS,
    DEFAULT_PROJECT_PREFIX,
    KIND_KEYS,
    PORT_MODES,
    REUSE_MODES,
    SERVICE_KINDS,
    Config,
    MigrationsConfig,
    PytestConfig,
    ServiceCheck,
    Timeouts,
)
from ci_toolkit.config.schema import Problems, Table
from ci_toolkit.errors import ConfigError

# The model names this module defined before `model` existed stay importable from here
# (pipeline/, stack/, output/, soak/ and secret_store/ import Config & friends from loader).
__all__ = ["find_config", "load", "parse"]


# Compose's own rule for a project name (`docker compose -p`). The name is also a directory
# under artifacts_dir, and the rule keeps "..", "/" and the like out of it.
PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
PROJECT_NAME_RULE = "lowercase letters, digits, dashes and underscores, starting with a letter or digit"


def project_slug(root: Path) -> str:
    """The config directory's name as a piece of a compose project name: ASCII lowercase and
    digits only (compose rejects "é" as it rejects "." and " "), at most 20 characters."""
    allowed = string.ascii_lowercase + string.digits
    return "".join(c if c in allowed else "-" for c in root.name.lower()).strip("-")[:20] or "run"


def valid_project_name(name: str) -> bool:
    return PROJECT_NAME.fullmatch(name) is not None


def find_config(start: Path, explicit: Path | None = None) -> tuple[Path, Mapping[str, Any]]:
    """Return the config file and its ci-toolkit table (`discovery`: --config, $CI_TOOLKIT_CONFIG,
    then the nearest one from `start` up to the repository root)."""
    return discovery.find(start, explicit)


def load(start: Path | None = None, explicit: Path | None = None) -> Config:
    source, data = find_config((start or Path.cwd()).resolve(), explicit)
    return parse(data, source.resolve())


def parse(data: Mapping[str, Any], source: Path) -> Config:
    problems = Problems(str(source))
    top = Table(data, "tool.ci-toolkit" if source.name == "pyproject.toml" else "", problems)
    root = source.parent

    compose_files = tuple(root / f for f in top.str_list("compose_files", ("docker-compose.test.yml",)))
    profiles = top.str_list("profiles")
    artifacts_dir = root / top.get("artifacts_dir", str, DEFAULT_ARTIFACTS_DIR)
    prefix = top.get("project_prefix", str, DEFAULT_PROJECT_PREFIX)
    if not valid_project_name(prefix):  # it starts every generated project name
        problems.add(
            top.key("project_prefix"),
            f"{prefix!r} cannot start a compose project name: use {PROJECT_NAME_RULE}",
        )
        prefix = DEFAULT_PROJECT_PREFIX

    services = _services(top.table("services"))

    env = top.table("env")
    required_env = env.str_list("required")
    defaults_table = env.table("defaults")
    env_defaults = {k: defaults_table.get(k, str, "") for k in defaults_table.data}
    env.finish()

    export_table = top.table("export")
    export = {k: export_table.get(k, str, "") for k in export_table.data}
    for name, template in export.items():
        _check_template(template, export_table.key(name), problems)

    migrations = None
    if "migrations" in top.data:
        mig = top.table("migrations")
        dsn = mig.get("dsn", str)
        if dsn is None:
            problems.add(mig.key("dsn"), 'missing; e.g. dsn = "{export.DATABASE_URL}"')
            dsn = ""
        _check_template(dsn, mig.key("dsn"), problems)
        if own_use := templates.not_per_worker(dsn, export, "dsn"):  # made once, on the template database
            problems.add(mig.key("dsn"), own_use)
        migrations = MigrationsConfig(
            directory=root / mig.get("directory", str, "migrations"),
            dsn=dsn,
            table=mig.get("table", str, "ci_toolkit_migrations"),
        )
        mig.finish()

    pt = top.table("pytest")
    fail_under = pt.get("fail_under", float)
    pytest_config = PytestConfig(
        paths=pt.str_list("paths"),
        args=pt.str_list("args"),
        markers=pt.str_list("markers"),
        coverage_source=pt.str_list("coverage_source"),
        fail_under=fail_under,
        python=pt.get("python", str),
        durations=_optional_path(root, pt.get("durations", str)),
        runner=pt.get("runner", str),
        python_args=pt.str_list("python_args"),
    )
    pt.finish()

    to = top.table("timeouts")
    defaults = Timeouts()
    timeouts = Timeouts(**{name: to.positive(name, getattr(defaults, name)) for name in asdict(defaults)})
    to.finish()

    secrets = secrets_config.parse(top.table("secrets"))
    for secret in secrets.params:
        where = top.table("secrets").key(secret.env)
        owners = (("env.required", required_env), ("env.defaults", env_defaults), ("export", export))
        for owner, names in owners:
            if secret.env in names:
                problems.add(where, f"{secret.env} is also in {owner}; a secret comes only from [secrets]")

    # Tables owned by later features are read by them; accept them here.
    suites = suites_mod.parse(top.table("suites"), pytest_config.markers)
    matrix = matrix_mod.parse(top.table("matrix"), suites)
    soak = soak_config.parse(top.table("soak"), suites)
    history = history_settings.parse(top.table("history"))

    reuse = top.choice("reuse", REUSE_MODES, "never") or "never"
    snapshot = bool(top.get("snapshot", bool, False))
    start = top.str_list("start")
    ports = top.choice("ports", PORT_MODES, "as-written") or "as-written"

    top.finish()
    if problems:
        raise ConfigError(
            "invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems.items),
            hint="fix the keys above; README 'Configuration' documents every key",
        )
    return Config(
        source=source,
        root=root,
        compose_files=compose_files,
        profiles=profiles,
        services=services,
        required_env=required_env,
        env_defaults=env_defaults,
        export=export,
        migrations=migrations,
        pytest=pytest_config,
        timeouts=timeouts,
        artifacts_dir=artifacts_dir,
        project_prefix=prefix,
        secrets=secrets,
        suites=suites,
        matrix=matrix,
        soak=soak,
        history=history,
        reuse=reuse,
        snapshot=snapshot,
        start=start,
        ports=ports,
    )


def _services(table: Table) -> tuple[ServiceCheck, ...]:
    services = []
    for name in table.data:
        svc = table.table(name)
        kind = svc.choice("kind", SERVICE_KINDS)
        if kind is None:
            if "kind" not in svc.data:
                table.problems.add(svc.key("kind"), f"missing; expected one of {', '.join(SERVICE_KINDS)}")
            svc.read.update(k for keys in KIND_KEYS.values() for k in keys)
            svc.read.update(("port", "timeout", "reset"))
            continue
        port = svc.port("port", DEFAULT_PORTS.get(kind))
        if port is None:
            table.problems.add(svc.key("port"), "missing; the container port to check, e.g. port = 8080")
            port = 0
        values = {key: _kind_value(svc, key) for key in KIND_KEYS[kind]}
        misplaced = [k for k in svc.data if k not in KIND_KEYS[kind] and k in _ALL_KIND_KEYS]
        for key in misplaced:
            owner = next(k for k, keys in KIND_KEYS.items() if key in keys)
            table.problems.add(svc.key(key), f"only applies to kind = {owner!r}, not {kind!r}")
            svc.read.add(key)
        reset = svc.str_list("reset")
        if "reset" in svc.data and not reset:
            table.problems.add(svc.key("reset"), 'an empty command; e.g. reset = ["redis-cli", "FLUSHALL"]')
        services.append(
            ServiceCheck(
                name=name, kind=kind, port=port, timeout=svc.positive("timeout", 60.0), reset=reset, **values
            )
        )
        svc.finish()
    return tuple(services)


_ALL_KIND_KEYS = {k for keys in KIND_KEYS.values() for k in keys}


def _kind_value(svc: Table, key: str) -> Any:
    """A kind's key, read with the type of its ServiceCheck default: a port, a flag, a number or text."""
    default = getattr(ServiceCheck, key)
    if key.endswith("_port"):
        return svc.port(key)
    if isinstance(default, bool):
        return svc.get(key, bool, default)
    if isinstance(default, int):
        return svc.get(key, int, default)
    return svc.get(key, str, default)


def _check_template(template: str, where: str, problems: Problems) -> None:
    try:
        templates.refs(template)
    except templates.TemplateError as exc:
        problems.add(where, str(exc))


def _optional_path(root: Path, value: str | None) -> Path | None:
    return None if value is None else root / value
