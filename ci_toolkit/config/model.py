"""The `[tool.ci-toolkit]` settings as frozen dataclasses, built once by `loader.parse`.

Nothing here reads a file or checks a value: `loader.parse` validates every key once, and
the rest of ci-toolkit trusts what it gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ci_toolkit.config import history_settings
from ci_toolkit.config import matrix as matrix_mod
from ci_toolkit.config import soak_settings as soak_config
from ci_toolkit.config import suites as suites_mod
from ci_toolkit.config.secret_params import SecretsConfig

# `artifacts_dir` when the file sets none (relative to the config file's directory).
DEFAULT_ARTIFACTS_DIR = "ci-artifacts"
DEFAULT_PROJECT_PREFIX = "citk"
SERVICE_KINDS = ("postgres", "redis", "nats", "http", "tcp")
# `reuse`: keep the stack as a lease between runs. "local": at a terminal, not when CI=true.
REUSE_MODES = ("never", "local", "always")
DEFAULT_PORTS = {"postgres": 5432, "redis": 6379, "nats": 4222}
# Keys that only make sense for one kind of readiness check.
PORT_MODES = ("as-written", "dynamic")
KIND_KEYS = {
    "postgres": ("user", "password", "database"),
    "nats": ("jetstream", "monitor_port", "user", "password", "token", "tls"),
    "http": ("path", "expect_status"),
    "redis": ("user", "password", "tls"),
    "tcp": (),
}


@dataclass(frozen=True)
class ServiceCheck:
    """How to tell that one compose service really answers."""

    name: str
    kind: str
    port: int
    timeout: float
    user: str = ""  # postgres: "postgres" when unset; redis: an ACL user; nats: with password
    password: str = ""
    token: str = ""  # nats: auth_token (`nats-server --auth`)
    tls: bool = False  # redis: speak TLS from the start; nats: also when INFO says tls_required
    database: str = "postgres"
    jetstream: bool = False
    monitor_port: int | None = None
    path: str = "/"
    expect_status: int = 200
    reset: tuple[str, ...] = ()  # argv run with `docker compose exec` to reset a reused stack

    def __post_init__(self) -> None:
        # One `user` field serves three kinds; only postgres has a login to fall back on, and a
        # redis or nats check must not send postgres's default as its ACL user.
        if self.kind == "postgres" and not self.user:
            object.__setattr__(self, "user", "postgres")

    def to_dict(self) -> dict[str, Any]:
        keep = ("name", "kind", "port", "timeout", *KIND_KEYS[self.kind])
        data = {k: v for k, v in asdict(self).items() if k in keep}
        if self.reset:
            data["reset"] = list(self.reset)
        for secret in ("password", "token"):
            if data.get(secret):
                data[secret] = "***"
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
    durations: Path | None = None  # the durations ledger; default: <artifacts_dir>/durations.json
    runner: str | None = None  # "uv run", "poetry run", "hatch run" or a python; None: detected
    python_args: tuple[str, ...] = ()  # interpreter flags before `-m pytest` (-bb, -X dev, -W error)


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
    project_prefix: str = DEFAULT_PROJECT_PREFIX
    secrets: SecretsConfig = field(default_factory=SecretsConfig)
    suites: Mapping[str, suites_mod.Suite] = field(default_factory=dict)
    matrix: matrix_mod.Matrix | None = None
    soak: soak_config.SoakConfig = field(default_factory=soak_config.SoakConfig)
    history: history_settings.HistoryConfig = field(default_factory=history_settings.HistoryConfig)
    reuse: str = "never"  # one of REUSE_MODES
    snapshot: bool = False  # start cold runs from a snapshot of the migrated stack
    start: tuple[str, ...] = ()  # compose services to start (and what they depend on); () = all
    ports: str = "as-written"  # one of PORT_MODES: "dynamic" rewrites published ports to 127.0.0.1::PORT
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
            "history": self.history.to_dict(),
            "reuse": self.reuse,
            "snapshot": self.snapshot,
        }
