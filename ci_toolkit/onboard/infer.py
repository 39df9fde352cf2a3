"""From a compose model to what the config says: how each service is checked, what the tests get
(DATABASE_URL, REDIS_URL, NATS_URL), the migrations, which services start, which ports move.

Two models of the same files: `model` as compose interpolates it (images, ports: what will run)
and `raw` without interpolation (`--no-interpolate`), where a login written `${PGPASS:-dev}` is
still a reference. A referenced value becomes `{env.PGPASS}` in an export, never its value: init
must not copy anything from the shell that ran it into a committed file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ci_toolkit.onboard.facts import RepoFacts

# The image's own name (last path part, no tag or digest) -> the probe that speaks its protocol.
IMAGE_KINDS = {
    "postgres": "postgres", "postgis": "postgres", "timescaledb": "postgres", "timescaledb-ha": "postgres",
    "pgvector": "postgres", "postgresql": "postgres", "redis": "redis", "redis-stack": "redis",
    "redis-stack-server": "redis", "valkey": "redis", "dragonfly": "redis", "keydb": "redis", "nats": "nats",
}  # fmt: skip
DEFAULT_PORTS = {"postgres": 5432, "redis": 6379, "nats": 4222}
EXPORTS = {"postgres": "DATABASE_URL", "redis": "REDIS_URL", "nats": "NATS_URL"}
# ${NAME}, $NAME, ${NAME:-default} / ${NAME-default}, ${NAME:?message} / ${NAME?message}
_REFERENCE = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*)|:?\?[^}]*)?\}?$")


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    kind: str
    port: int
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. jetstream = true


@dataclass(frozen=True)
class Inferred:
    services: tuple[ServiceSpec, ...]
    exports: Mapping[str, str]
    env_required: tuple[str, ...]
    env_defaults: Mapping[str, str]
    dynamic_ports: bool
    start: tuple[str, ...]  # () = every service
    migrations_dsn: str | None
    notes: tuple[str, ...]


def infer(model: Mapping[str, Any], raw: Mapping[str, Any], facts: RepoFacts) -> Inferred:
    services: dict[str, Any] = dict(model.get("services") or {})
    raw_services: Mapping[str, Any] = raw.get("services") or {}
    built = sorted(n for n, s in services.items() if s.get("build"))
    start = (
        tuple(sorted(n for n in services if n not in built)) if built and len(built) < len(services) else ()
    )
    notes: list[str] = []
    if start:
        notes.append(
            f"start = {list(start)}: {', '.join(built)} built from source, not started for the tests"
        )
    specs: list[ServiceSpec] = []
    exports: dict[str, str] = {}
    refs = _References()
    for name in sorted(services):
        if start and name not in start:
            continue
        service, raw_service = services[name], raw_services.get(name) or {}
        spec, why = _check(name, service)
        notes.append(why)
        if spec is None:
            continue
        specs.append(spec)
        if spec.kind in EXPORTS:
            export = (
                EXPORTS[spec.kind]
                if EXPORTS[spec.kind] not in exports
                else f"{_env_name(name)}_{EXPORTS[spec.kind]}"
            )
            dropped = len(refs.dropped)
            exports[export] = _url(spec, raw_service, refs)
            if len(refs.dropped) > dropped:
                notes.append(f"{name}: a login built from several variables is left out of {export}: add it")
            if raw_service.get("env_file") or service.get("env_file"):
                notes.append(f"{name}: env_file is not read by init (values stay out of the config): "
                             f"if it sets the login, put it in {export} as {{env.NAME}}")  # fmt: skip
    started = [s for n, s in services.items() if not start or n in start]
    fixed = sorted({str(p.get("published")) for s in started for p in s.get("ports") or []
                    if str(p.get("published") or "0") != "0"})  # fmt: skip
    if fixed:
        notes.append(
            f'ports = "dynamic": fixed host ports {", ".join(fixed)} become 127.0.0.1::PORT for the tests'
        )
    dsn = None
    if facts.migrations_dir:
        database = next((k for k in exports if k.endswith("DATABASE_URL")), None)
        if database:
            dsn = f"{{export.{database}}}"
            notes.append(f"migrations: {facts.migrations_dir} (NNN_name.sql, applied in order) on {database}")
        else:
            notes.append(f"{facts.migrations_dir} has SQL migrations but no postgres service runs them")
    if facts.other_migrations:
        notes.append(
            f"{facts.other_migrations}: not ci-toolkit's format (NNN_name.sql); run them from your tests"
        )
    return Inferred(
        services=tuple(specs),
        exports=exports,
        env_required=tuple(sorted(refs.required)),
        env_defaults=dict(sorted(refs.defaults.items())),
        dynamic_ports=bool(fixed),
        start=start,
        migrations_dsn=dsn,
        notes=tuple(notes),
    )


def image_kind(image: str) -> str | None:
    name = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0].lower()
    return IMAGE_KINDS.get(name)


def _check(name: str, service: Mapping[str, Any]) -> tuple[ServiceSpec | None, str]:
    kind = image_kind(str(service.get("image") or ""))
    targets = [int(p["target"]) for p in service.get("ports") or [] if p.get("target")]
    health = service.get("healthcheck") or {}
    has_health = bool(health) and not health.get("disable") and health.get("test") not in (["NONE"], "NONE")
    if kind:
        port = DEFAULT_PORTS[kind] if DEFAULT_PORTS[kind] in targets else (targets[0] if targets else None)
        if port is None:
            publish = f"127.0.0.1::{DEFAULT_PORTS[kind]}"
            return None, f"{name}: {kind} image, no published port: ready when running (publish {publish})"
        jetstream = kind == "nats" and _has_flag(service, ("-js", "--js", "-jetstream", "--jetstream"))
        extra = {"jetstream": True} if jetstream else {}
        return ServiceSpec(name, kind, port, extra), f"{name}: {kind} probe on port {port}"
    if has_health:
        return None, f"{name}: ready when its own healthcheck passes"
    if targets:
        return ServiceSpec(name, "tcp", targets[0]), f"{name}: tcp connect on port {targets[0]}"
    return None, f"{name}: no port and no healthcheck: ready when its container runs"


def _argv(service: Mapping[str, Any]) -> list[str]:
    """What the container runs, `sh -c "redis-server --requirepass X"` scripts split too (the probe
    reads credentials the same way)."""
    from ci_toolkit.stack.credentials import words

    return words(service.get("entrypoint")) + words(service.get("command"))


def _has_flag(service: Mapping[str, Any], flags: tuple[str, ...]) -> bool:
    words = _argv(service)
    return any(str(w).split("=", 1)[0] in flags for w in words)


class _References:
    """The `${NAME}` / `${NAME:-default}` values the exports refer to, for the [env] table."""

    def __init__(self) -> None:
        self.required: set[str] = set()
        self.defaults: dict[str, str] = {}
        self.dropped: list[str] = []  # values built from more than one reference: not guessed at

    def template(self, value: str) -> str | None:
        """A value as an export template part: literal (URL-quoted, braces doubled), `{env.NAME}`
        for a reference, None for anything mixed (`pre${X}post`: not guessed at)."""
        if "$" not in value.replace("$$", ""):  # `$$` is compose's escaped `$`: the container sees `$`
            return quote(value.replace("$$", "$"), safe="").replace("{", "{{").replace("}", "}}")
        match = _REFERENCE.match(value)
        if not match or (value.startswith("${") != value.endswith("}")):
            self.dropped.append(value)
            return None
        name, default = match.group(1), match.group(3)
        if default is not None:
            self.defaults[name] = default
        else:
            self.required.add(name)
        return f"{{env.{name}}}"


def _url(spec: ServiceSpec, raw: Mapping[str, Any], refs: _References) -> str:
    env = _environment(raw)
    words = _argv(raw)
    address = f"{{{spec.name}.host}}:{{{spec.name}.port:{spec.port}}}"
    if spec.kind == "postgres":
        user = _first(env, "POSTGRES_USER", "POSTGRESQL_USERNAME") or "postgres"
        password = _first(env, "POSTGRES_PASSWORD", "POSTGRESQL_PASSWORD")
        database = _first(env, "POSTGRES_DB", "POSTGRESQL_DATABASE") or user
        login = _login(refs, user, password)
        db = refs.template(database) or "postgres"
        return f"postgresql://{login}@{address}/{db}"
    if spec.kind == "redis":
        password = _after(words, "--requirepass") or _first(env, "REDIS_PASSWORD")
        secret = refs.template(password) if password else None
        return f"redis://:{secret}@{address}/0" if secret else f"redis://{address}/0"
    user, password, token = _after(words, "--user"), _after(words, "--pass"), _after(words, "--auth")
    if user and password:
        return f"nats://{_login(refs, user, password)}@{address}"
    secret = refs.template(token) if token else None
    return f"nats://{secret}@{address}" if secret else f"nats://{address}"


def _login(refs: _References, user: str, password: str) -> str:
    name = refs.template(user) or "postgres"
    secret = refs.template(password) if password else None
    return f"{name}:{secret}" if secret else name


def _environment(raw: Mapping[str, Any]) -> dict[str, str]:
    env = raw.get("environment") or {}
    if isinstance(env, list):
        return {k: (v if eq else "${" + k + "}") for k, eq, v in (str(i).partition("=") for i in env)}
    # A key without a value passes the shell's variable through: a reference to it.
    return {str(k): ("${" + str(k) + "}" if v is None else str(v)) for k, v in env.items()}


def _first(env: Mapping[str, str], *names: str) -> str:
    return next((env[n] for n in names if env.get(n)), "")


def _after(words: list[str], flag: str) -> str:
    """A flag's value in an argv (`--pass X`, `--pass=X`, nats' `-pass X`), or "" when absent."""
    bare = flag.lstrip("-")
    for i, word in enumerate(words):
        name, eq, value = word.partition("=")
        if name.lstrip("-") == bare and name.startswith("-"):
            return value if eq else (words[i + 1] if i + 1 < len(words) else "")
    return ""


def _env_name(service: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", service).upper()
