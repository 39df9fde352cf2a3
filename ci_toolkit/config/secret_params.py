"""`[secrets]`: which environment variables the tests get from AWS SSM Parameter Store.

Validated with the rest of the config; the fetching lives in `ci_toolkit.secret_store`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ci_toolkit.config.schema import Problems, Table, did_you_mean

SECRETS_OPTIONS = ("region", "with_decryption", "paths", "migrations", "allow_short")

# Variables that decide which code the tests' processes run, or where they read and write: a
# secret (or a parameter under `secrets.paths`, named by its leaf) must never set one.
PROCESS_CONTROL = frozenset(
    {"PATH", "HOME", "SHELL", "BASH_ENV", "ENV", "IFS", "CDPATH", "PS4", "PROMPT_COMMAND", "SHELLOPTS"}
    | {"BASHOPTS", "GLOBIGNORE", "USER", "LOGNAME", "PWD", "OLDPWD", "TMPDIR", "TMP", "TEMP"}
    | {"NODE_OPTIONS", "NODE_PATH", "PERL5OPT", "PERL5LIB", "PERLLIB", "RUBYOPT", "RUBYLIB", "CLASSPATH"}
    | {"JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "GCONV_PATH", "VIRTUAL_ENV"}
    | {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"}
    | {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT"}
    | {"DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_OUTPUT", "GITHUB_STATE"}
    | {"GITHUB_STEP_SUMMARY"}
)
# ... and every variable starting with one of these (PYTHONPATH, PYTEST_ADDOPTS, LD_PRELOAD, DYLD_*,
# COVERAGE_FILE, which ci-toolkit itself sets, CI_TOOLKIT_PROJECT).
PROCESS_CONTROL_PREFIXES = (
    *("PYTHON", "PYTEST_", "LD_", "DYLD_", "CI_TOOLKIT_", "COVERAGE_", "COV_CORE_", "COMPOSE_", "BASH_FUNC_"),
)


def controls_processes(name: str) -> bool:
    """Whether a variable called `name` changes how processes run (PATH, PYTEST_ADDOPTS, ...)."""
    upper = name.upper()
    return upper in PROCESS_CONTROL or upper.startswith(PROCESS_CONTROL_PREFIXES)


def process_control_problem(name: str) -> str:
    return (
        f"{name} controls how the tests' processes run (which programs, modules or plugins load, "
        "or where they read and write); a secret may not set it"
    )


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
    allow_short: bool = False  # a value too short to mask is given to the tests all the same


@dataclass(frozen=True)
class SecretPath:
    """Every parameter under `path` (recursively), each as its upper-cased leaf name."""

    path: str
    optional: bool = False
    allow_short: bool = False


@dataclass(frozen=True)
class SecretsConfig:
    """`[secrets]`: what the tests get from AWS SSM Parameter Store. Never compose, never disk."""

    params: tuple[SecretParam, ...] = ()
    paths: tuple[SecretPath, ...] = ()
    region: str | None = None  # default: AWS_REGION / AWS_DEFAULT_REGION / the profile's region
    with_decryption: bool = True
    migrations: bool = False  # also offer the values to migrations.dsn as {env.NAME}
    allow_short: bool = False  # for every entry: values too short to mask are not refused

    @property
    def configured(self) -> bool:
        return bool(self.params or self.paths)

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": {
                p.env: _short({"name": p.name, "optional": p.optional}, p.allow_short) for p in self.params
            },
            "paths": [_short({"path": p.path, "optional": p.optional}, p.allow_short) for p in self.paths],
            "region": self.region,
            "with_decryption": self.with_decryption,
            "migrations": self.migrations,
            **({"allow_short": True} if self.allow_short else {}),
        }


def _short(entry: dict[str, Any], allow_short: bool) -> dict[str, Any]:
    """`allow_short` is shown only where it is set, so configs without it read as before."""
    return {**entry, "allow_short": True} if allow_short else entry


def parse(table: Table) -> SecretsConfig:
    """`API_KEY = "/a/b"`, `API_KEY = { name = "/a/b", optional = true }`, `paths = ["/a/"]`."""
    problems = table.problems
    region = table.get("region", str)
    if region is not None and not _REGION.match(region):
        problems.add(table.key("region"), f"expected an AWS region like eu-west-1, got {region!r}")
        region = None
    with_decryption = table.get("with_decryption", bool, True)
    migrations = table.get("migrations", bool, False)
    allow_short = bool(table.get("allow_short", bool, False))
    paths: list[SecretPath] = []
    for i, item in enumerate(table.get("paths", list, [])):
        where = f"{table.key('paths')}[{i}]"
        path, optional, short = _entry(item, "path", where, problems)
        if path is None:
            continue
        if not path.startswith("/") or not _PARAMETER.match(path.rstrip("/") or "/x"):
            problems.add(where, f"expected a parameter path starting with /, like /team/svc/, got {path!r}")
            continue
        paths.append(SecretPath(path.rstrip("/") or "/", optional, short or allow_short))
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
        if controls_processes(key):
            problems.add(table.key(key), process_control_problem(key) + f"; rename it, e.g. APP_{key}")
            continue
        name, optional, short = _entry(value, "name", table.key(key), problems)
        if name is None:
            continue
        if not _PARAMETER.match(name) or ("/" in name and not name.startswith(("/", "arn:"))):
            problems.add(table.key(key), f"not an SSM parameter name: {name!r} (e.g. /team/test/svc/api_key)")
            continue
        params.append(SecretParam(key, name, optional, short or allow_short))
    table.finish()
    return SecretsConfig(tuple(params), tuple(paths), region, with_decryption, migrations, allow_short)


def _entry(value: Any, key: str, where: str, problems: Problems) -> tuple[str | None, bool, bool]:
    """A string, or `{ KEY = "...", optional = true, allow_short = true }`: (name, optional, allow_short)."""
    if isinstance(value, str):
        return value, False, False
    if not isinstance(value, dict):
        problems.add(where, f'expected a string or a table like {{ {key} = "/team/x", optional = true }}')
        return None, False, False
    sub = Table(value, where, problems)
    name = sub.get(key, str)
    optional = bool(sub.get("optional", bool, False))
    allow_short = bool(sub.get("allow_short", bool, False))
    sub.finish()
    if name is None and key not in value:
        problems.add(sub.key(key), f'missing; e.g. {key} = "/team/test/svc/api_key"')
    return name, optional, allow_short
