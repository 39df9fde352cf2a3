"""The `[tool.ci-toolkit]` schema: frozen dataclasses, validated once at load.

Looked up in this order: `--config PATH`, `ci-toolkit.toml` (top-level keys), then
`pyproject.toml` (`[tool.ci-toolkit]`). Every problem in the file is reported at once,
naming the file, the key and the expected type.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ci_toolkit.config import matrix as matrix_mod
from ci_toolkit.config import secret_params as secrets_config
from ci_toolkit.config import soak_settings as soak_config
from ci_toolkit.config import suites as suites_mod
from ci_toolkit.config import templates
from ci_toolkit.config.schema import Problems, Table
from ci_toolkit.config.secret_params import SecretsConfig
from ci_toolkit.errors import ConfigError

SERVICE_KINDS = ("postgres", "redis", "nats", "http", "tcp")
DEFAULT_PORTS = {"postgres": 5432, "redis": 6379, "nats": 4222}
# Keys that only make sense for one kind of readiness check.
KIND_KEYS = {
    "postgres": ("user", "password", "database"),
    "nats": ("jetstream", "monitor_port"),
    "http": ("path", "expect_status"),
    "redis": (),
    "tcp": (),
}


@dataclass(frozen=True)
class ServiceCheck:
    """How to tell that one compose service really answers."""

    name: str
    kind: str
    port: int
    timeout: float
    user: str = "postgres"
    password: str = ""
    database: str = "postgres"
    jetstream: bool = False
    monitor_port: int | None = None
    path: str = "/"
    expect_status: int = 200

    def to_dict(self) -> dict[str, Any]:
        keep = ("name", "kind", "port", "timeout", *KIND_KEYS[self.kind])
        data = {k: v for k, v in asdict(self).items() if k in keep}
        if data.get("password"):
            data["password"] = "***"
        return data


@dataclass(frozen=True)
class MigrationsConfig:
    directory: Path
    dsn: str  # a template, rendered against the live stack
    table: str = "ci_toolkit_migrations"


@dataclass(frozen=True)
class PytestConfig:
    paths: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    coverage_source: tuple[str, ...] = ()
    fail_under: float | None = None
    python: str | None = None  # interpreter that runs pytest; default: the one running us


@dataclass(frozen=True)
class Timeouts:
    up: float = 300.0
    ready: float = 120.0
    migrate: float = 120.0
    test: float = 3600.0
    down: float = 120.0


@dataclass(frozen=True)
class Config:
    source: Path
    root: Path  # the directory relative paths are resolved against
    compose_files: tuple[Path, ...]
    profiles: tuple[str, ...]
    services: tuple[ServiceCheck, ...]
    required_env: tuple[str, ...]
    env_defaults: Mapping[str, str]
    export: Mapping[str, str]  # name -> template, in declaration order
    migrations: MigrationsConfig | None
    pytest: PytestConfig
    timeouts: Timeouts
    artifacts_dir: Path
    project_prefix: str = "citk"
    secrets: SecretsConfig = field(default_factory=SecretsConfig)
    suites: Mapping[str, suites_mod.Suite] = field(default_factory=dict)
    matrix: matrix_mod.Matrix | None = None
    soak: soak_config.SoakConfig = field(default_factory=soak_config.SoakConfig)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def service(self, name: str) -> ServiceCheck | None:
        return next((s for s in self.services if s.name == name), None)

    def default_ports(self) -> dict[str, int]:
        return {s.name: s.port for s in self.services}

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "compose_files": [str(p) for p in self.compose_files],
            "profiles": list(self.profiles),
            "services": {s.name: s.to_dict() for s in self.services},
            "env": {"required": list(self.required_env), "defaults": dict(self.env_defaults)},
            "export": dict(self.export),
            "migrations": None
            if self.migrations is None
            else {
                "directory": str(self.migrations.directory),
                "dsn": self.migrations.dsn,
                "table": self.migrations.table,
            },
            "pytest": asdict(self.pytest),
            "timeouts": asdict(self.timeouts),
            "artifacts_dir": str(self.artifacts_dir),
            "secrets": self.secrets.to_dict(),
            "suites": {name: suite.to_dict() for name, suite in self.suites.items()},
            "matrix": None if self.matrix is None else self.matrix.to_json(),
            "soak": self.soak.to_dict(),
        }


def find_config(start: Path, explicit: Path | None = None) -> tuple[Path, Mapping[str, Any]]:
    """Return the config file and its ci-toolkit table."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} does not exist")
        data = _read_toml(explicit)
        if explicit.name == "pyproject.toml":
            return explicit, _tool_table(explicit, data)
        return explicit, data
    toolkit_toml = start / "ci-toolkit.toml"
    if toolkit_toml.is_file():
        return toolkit_toml, _read_toml(toolkit_toml)
    pyproject = start / "pyproject.toml"
    if pyproject.is_file():
        return pyproject, _tool_table(pyproject, _read_toml(pyproject))
    raise ConfigError(
        f"no ci-toolkit config in {start}",
        hint="add a [tool.ci-toolkit] table to pyproject.toml or create ci-toolkit.toml "
        "(see README: Configuration), or pass --config PATH",
    )


def load(start: Path | None = None, explicit: Path | None = None) -> Config:
    source, data = find_config((start or Path.cwd()).resolve(), explicit)
    return parse(data, source.resolve())


def parse(data: Mapping[str, Any], source: Path) -> Config:
    problems = Problems(str(source))
    top = Table(data, "tool.ci-toolkit" if source.name == "pyproject.toml" else "", problems)
    root = source.parent

    compose_files = tuple(root / f for f in top.str_list("compose_files", ("docker-compose.test.yml",)))
    profiles = top.str_list("profiles")
    artifacts_dir = root / top.get("artifacts_dir", str, "ci-artifacts")
    prefix = top.get("project_prefix", str, "citk")

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
            svc.read.update(("port", "timeout"))
            continue
        port = svc.port("port", DEFAULT_PORTS.get(kind))
        if port is None:
            table.problems.add(svc.key("port"), "missing; the container port to check, e.g. port = 8080")
            port = 0
        values: dict[str, Any] = {}
        for key in KIND_KEYS[kind]:
            default = getattr(ServiceCheck, key)
            if key == "monitor_port":
                values[key] = svc.port(key)
            elif key in ("jetstream",):
                values[key] = svc.get(key, bool, default)
            elif key == "expect_status":
                values[key] = svc.get(key, int, default)
            else:
                values[key] = svc.get(key, str, default)
        misplaced = [k for k in svc.data if k not in KIND_KEYS[kind] and k in _ALL_KIND_KEYS]
        for key in misplaced:
            owner = next(k for k, keys in KIND_KEYS.items() if key in keys)
            table.problems.add(svc.key(key), f"only applies to kind = {owner!r}, not {kind!r}")
            svc.read.add(key)
        services.append(
            ServiceCheck(name=name, kind=kind, port=port, timeout=svc.positive("timeout", 60.0), **values)
        )
        svc.finish()
    return tuple(services)


_ALL_KIND_KEYS = {k for keys in KIND_KEYS.values() for k in keys}


def _check_template(template: str, where: str, problems: Problems) -> None:
    try:
        templates.refs(template)
    except templates.TemplateError as exc:
        problems.add(where, str(exc))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def _tool_table(path: Path, data: Mapping[str, Any]) -> Mapping[str, Any]:
    table = data.get("tool", {}).get("ci-toolkit")
    if table is None:
        raise ConfigError(
            f"{path} has no [tool.ci-toolkit] table",
            hint="add one (see README: Configuration) or create ci-toolkit.toml",
        )
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: tool.ci-toolkit: expected a table")
    return table
