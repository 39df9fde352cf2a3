"""Credentials for the readiness probes, taken from the compose file when the config has none.

PostgreSQL's official and bitnami images take their login from the environment (`POSTGRES_USER`,
`POSTGRES_PASSWORD`, `POSTGRES_DB`; bitnami's `POSTGRESQL_*`), so `kind = "postgres"` needs no
credentials in the config either (what `ci-toolkit init` writes relies on it). A protected Redis or
NATS is usually protected in its compose definition, where the official and bitnami images take it:
`redis-server --requirepass X` or env `REDIS_PASSWORD` (bitnami); `nats-server --user U --pass P` or
`--auth TOKEN`. Asking the user to repeat that in the config would make the two drift apart, so the
probe reads it from `docker compose config` (the model, interpolated). Anything set in the config
wins; ACL users (`--user alice on >pw ...`) are not parsed: give `user` and `password` in the config
for those.

Every credential found here is registered with the redaction filter before any probe runs.
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ci_toolkit.config import ServiceCheck
from ci_toolkit.redact import REDACTOR

# (kind, command-line flag) -> the ServiceCheck field it fills. nats-server parses its flags with
# Go's `flag` package, so `-user`, `--user` and `--user=U` are all the same flag.
FLAGS: dict[str, dict[str, str]] = {
    "redis": {"--requirepass": "password"},
    "nats": {"--user": "user", "--pass": "password", "--auth": "token"},
    "postgres": {},
}
ENV: dict[str, dict[str, str]] = {
    "redis": {"REDIS_PASSWORD": "password"},
    "nats": {},
    "postgres": {
        "POSTGRES_USER": "user",
        "POSTGRESQL_USERNAME": "user",
        "POSTGRES_PASSWORD": "password",
        "POSTGRESQL_PASSWORD": "password",
        "POSTGRES_DB": "database",
        "POSTGRESQL_DATABASE": "database",
    },
}


def checks(services: Iterable[ServiceCheck], model: Mapping[str, Any] | None) -> dict[str, ServiceCheck]:
    """Every check by name, with the credentials its compose service declares filled in."""
    definitions = (model or {}).get("services") or {}
    return {c.name: with_credentials(c, definitions.get(c.name)) for c in services}


def with_credentials(check: ServiceCheck, service: Mapping[str, Any] | None) -> ServiceCheck:
    """`check` with the credentials of its compose `service` definition in the fields the config
    left empty. A service that declares none (or a kind that has none) gives `check` back."""
    if check.kind not in FLAGS or not service:
        return check
    found = {**_from_env(check.kind, service), **_from_command(check.kind, service)}
    # `docker compose config` keeps compose's `$$` escape; the container is given a single `$`.
    found = {k: v.replace("$$", "$") for k, v in found.items()}
    # Masked even when the config's are used: the command line (in `compose config`, `docker
    # inspect`) holds them, and so does a Redis ACL rule's `>password`.
    # A postgres login's user and database are names, not secrets: masking "app" would mask words.
    learned = {k: v for k, v in found.items() if k not in ("user", "database") or check.kind != "postgres"}
    for value in [*learned.values(), *_acl_passwords(check.kind, service)]:
        REDACTOR.learn(value)
    if check.kind == "postgres":
        return _postgres(check, found)
    if check.user or check.password or check.token or not found:
        # The config chose how to authenticate: a password from compose must not be paired with
        # the config's user, nor a compose token sent beside the config's user and password.
        return check
    return replace(
        check, user=found.get("user", ""), password=found.get("password", ""), token=found.get("token", "")
    )


def _postgres(check: ServiceCheck, found: Mapping[str, str]) -> ServiceCheck:
    """The image's login when the config gives none (ServiceCheck's user is then "postgres"), and
    the database it creates (POSTGRES_DB, else one named after POSTGRES_USER) when the config
    names none."""
    configured = bool(check.password) or check.user != "postgres"
    database = check.database
    if database == "postgres":
        database = found.get("database") or (found.get("user", "postgres") if not configured else database)
    if configured:
        return replace(check, database=database)
    user, password = found.get("user", "postgres"), found.get("password", "")
    return replace(check, database=database, user=user, password=password)


def _from_command(kind: str, service: Mapping[str, Any]) -> dict[str, str]:
    flags = FLAGS[kind]
    argv = words(service.get("entrypoint")) + words(service.get("command"))
    found: dict[str, str] = {}
    for i, word in enumerate(argv):
        name, eq, value = word.partition("=")
        flag = "--" + name.lstrip("-") if name.startswith("-") else name
        if flag not in flags:
            continue
        if not eq:
            if i + 1 >= len(argv):
                continue
            value = argv[i + 1]
        found[flags[flag]] = value
    return found


def _acl_passwords(kind: str, service: Mapping[str, Any]) -> list[str]:
    """The `>password` rules of `redis-server --user NAME on >password ~* +@all` (not used to log
    in: which user the tests want is the config's to say)."""
    if kind != "redis":
        return []
    argv = words(service.get("entrypoint")) + words(service.get("command"))
    user_at = [i for i, w in enumerate(argv) if w == "--user"]
    return [w[1:] for i, w in enumerate(argv) if w.startswith(">") and any(at < i for at in user_at)]


def _from_env(kind: str, service: Mapping[str, Any]) -> dict[str, str]:
    raw = service.get("environment") or {}
    env: dict[str, Any] = dict(raw) if isinstance(raw, Mapping) else {}
    if isinstance(raw, list):  # compose config gives a mapping; a list if handed a raw file
        env = {name: value for name, _, value in (str(item).partition("=") for item in raw)}
    return {field: str(env[name]) for name, field in ENV[kind].items() if env.get(name)}


def words(argv: Any) -> list[str]:
    """The argv compose runs, with `sh -c "redis-server --requirepass X"` scripts split too."""
    if not argv:
        return []
    items = shlex.split(argv) if isinstance(argv, str) else [str(a) for a in argv]
    words: list[str] = []
    for item in items:
        words.append(item)
        if " " in item:
            with contextlib.suppress(ValueError):  # an unbalanced quote: not a script we can read
                words.extend(shlex.split(item))
    return words
