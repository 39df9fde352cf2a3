"""`[secrets]`: which environment variables the tests get from AWS SSM Parameter Store.

Validated with the rest of the config; the fetching lives in `ci_toolkit.secrets`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ci_toolkit.config.schema import Problems, Table, did_you_mean

SECRETS_OPTIONS = ("region", "with_decryption", "paths", "migrations")


_SECRET_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")


_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


# Plain or hierarchical ("/a/b") names, an optional ":version"/":label" selector, or a shared ARN.
_PARAMETER = re.compile(r"^(arn:\S+|/?[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*(:[A-Za-z0-9_.\-]+)?)$")


@dataclass(frozen=True)
class SecretParam:
    """One SSM parameter, exposed to the tests as environment variable `env`."""

    env: str
    name: str
    optional: bool = False


@dataclass(frozen=True)
class SecretPath:
    """Every parameter under `path` (recursively), each as its upper-cased leaf name."""

    path: str
    optional: bool = False


@dataclass(frozen=True)
class SecretsConfig:
    """`[secrets]`: what the tests get from AWS SSM Parameter Store. Never compose, never disk."""

    params: tuple[SecretParam, ...] = ()
    paths: tuple[SecretPath, ...] = ()
    region: str | None = None  # default: AWS_REGION / AWS_DEFAULT_REGION / the profile's region
    with_decryption: bool = True
    migrations: bool = False  # also offer the values to migrations.dsn as {env.NAME}

    @property
    def configured(self) -> bool:
        return bool(self.params or self.paths)

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": {p.env: {"name": p.name, "optional": p.optional} for p in self.params},
            "paths": [{"path": p.path, "optional": p.optional} for p in self.paths],
            "region": self.region,
            "with_decryption": self.with_decryption,
            "migrations": self.migrations,
        }


def parse(table: Table) -> SecretsConfig:
    """`API_KEY = "/a/b"`, `API_KEY = { name = "/a/b", optional = true }`, `paths = ["/a/"]`."""
    problems = table.problems
    region = table.get("region", str)
    if region is not None and not _REGION.match(region):
        problems.add(table.key("region"), f"expected an AWS region like eu-west-1, got {region!r}")
        region = None
    with_decryption = table.get("with_decryption", bool, True)
    migrations = table.get("migrations", bool, False)
    paths: list[SecretPath] = []
    for i, item in enumerate(table.get("paths", list, [])):
        where = f"{table.key('paths')}[{i}]"
        path, optional = _name_and_optional(item, "path", where, problems)
        if path is None:
            continue
        if not path.startswith("/") or not _PARAMETER.match(path.rstrip("/") or "/x"):
            problems.add(where, f"expected a parameter path starting with /, like /team/svc/, got {path!r}")
            continue
        paths.append(SecretPath(path.rstrip("/") or "/", optional))
    params: list[SecretParam] = []
    for key, value in table.data.items():
        if key in SECRETS_OPTIONS:
            continue
        table.read.add(key)
        if not _SECRET_ENV.match(key):
            problems.add(
                table.key(key),
                f"unknown key{did_you_mean(key, SECRETS_OPTIONS)}: options are {', '.join(SECRETS_OPTIONS)}; "
                'a secret is an UPPER_CASE variable name, e.g. API_KEY = "/team/test/svc/api_key"',
            )
            continue
        name, optional = _name_and_optional(value, "name", table.key(key), problems)
        if name is None:
            continue
        if not _PARAMETER.match(name) or ("/" in name and not name.startswith(("/", "arn:"))):
            problems.add(table.key(key), f"not an SSM parameter name: {name!r} (e.g. /team/test/svc/api_key)")
            continue
        params.append(SecretParam(key, name, optional))
    table.finish()
    return SecretsConfig(tuple(params), tuple(paths), region, with_decryption, migrations)


def _name_and_optional(value: Any, key: str, where: str, problems: Problems) -> tuple[str | None, bool]:
    if isinstance(value, str):
        return value, False
    if not isinstance(value, dict):
        problems.add(where, f'expected a string or a table like {{ {key} = "/team/x", optional = true }}')
        return None, False
    sub = Table(value, where, problems)
    name = sub.get(key, str)
    optional = bool(sub.get("optional", bool, False))
    sub.finish()
    if name is None and key not in value:
        problems.add(sub.key(key), f'missing; e.g. {key} = "/team/test/svc/api_key"')
    return name, optional
