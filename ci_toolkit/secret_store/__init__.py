"""Secrets for the tests: AWS SSM Parameter Store, or offline `--secrets-from-env` / `--secrets-file`.

Values go to the test subprocess (and to `migrations.dsn` as `{env.NAME}` with
`migrations = true`) and nowhere else: not compose, not `$GITHUB_ENV`, no file. Each value is
registered with `REDACTOR` the moment it is known and, in GitHub Actions, announced with
`::add-mask::` before anything else is printed. A value too short to mask (under
`redact.MIN_LENGTH`) is refused unless `allow_short = true` says the tests may have it unmasked;
a variable that would change how processes run (PATH, PYTEST_ADDOPTS, ...) or replace an
export is refused too.

`optional = true` means the run goes on without the value when it is *absent*: no AWS
credentials at all (a laptop without AWS, a pull request from a fork) or no such parameter.
It does not cover AWS that is there but broken — access denied, rejected or expired
credentials, an endpoint that does not answer: those fail even for optional secrets, because
skipping would quietly turn a misconfigured role into tests that never run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ci_toolkit.config.secret_params import SecretsConfig, controls_processes, process_control_problem
from ci_toolkit.errors import (
    CiToolkitError,
    ConfigError,
    EnvironmentInvalid,
    SecretAccessDenied,
    SecretError,
    SecretNoCredentials,
    SecretNotFound,
    UsageError,
    raise_ranked,
)
from ci_toolkit.output import github
from ci_toolkit.redact import MIN_LENGTH, REDACTOR
from ci_toolkit.secret_store.dotenv import parse_dotenv

if TYPE_CHECKING:
    from ci_toolkit.config import Config
    from ci_toolkit.output.console import Reporter

__all__ = ["Entry", "Resolution", "fetch_for_run", "parse_dotenv", "protect", "resolve", "source_label"]

_PRIORITY = (
    SecretNoCredentials,
    SecretAccessDenied,
    SecretNotFound,
    SecretError,
    ConfigError,
    EnvironmentInvalid,
)


@dataclass(frozen=True)
class Entry:
    """One line of `secrets check`: a variable, where its value came from, never the value."""

    env: str
    origin: str
    status: str  # ok | skipped | error
    note: str = ""

    def describe(self) -> str:
        return f"{self.env}: {self.status} ({self.origin})" + (f": {self.note}" if self.note else "")

    def to_dict(self) -> dict[str, str]:
        return {"env": self.env, "origin": self.origin, "status": self.status, "note": self.note}


@dataclass
class Resolution:
    source: str  # "ssm", "environment", "file PATH"
    values: dict[str, str] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    problems: list[CiToolkitError] = field(default_factory=list)
    # Variables the run sets otherwise (exports, [env]): name -> where, e.g. "export".
    reserved: Mapping[str, str] = field(default_factory=dict)

    def add(self, env: str, value: str, origin: str, note: str = "", *, allow_short: bool = False) -> None:
        if 0 < len(value) < MIN_LENGTH:  # REDACTOR ignores values this short: they would mask words
            if not allow_short:
                self.fail(env, origin, too_short(env, origin, len(value)))
                return
            note = (
                f"{note + '; ' if note else ''}shorter than {MIN_LENGTH} characters, so not masked in output"
            )
        self.values[env] = value
        self.entries.append(Entry(env, origin, "ok", note))

    def refuse_name(self, env: str, origin: str, what: str, hint: str) -> bool:
        """Fail (config error) if a variable a secret source names would change how processes
        run or replace an export; `what` says where the name came from."""
        if controls_processes(env):
            problem = process_control_problem(env)
        elif env in self.reserved:
            problem = f"{env} is also in {self.reserved[env]}; a secret may not replace it"
        else:
            return False
        self.fail(env, origin, ConfigError(f"{what} becomes {env}: {problem}", hint=hint))
        return True

    def skip(self, env: str, origin: str, note: str) -> None:
        self.entries.append(Entry(env, origin, "skipped", note))

    def fail(self, env: str, origin: str, error: CiToolkitError) -> None:
        self.entries.append(Entry(env, origin, "error", type(error).__name__))
        self.problems.append(error)

    def detail(self) -> str:
        skipped = [e for e in self.entries if e.status == "skipped"]
        parts = [f"{len(self.values)} from {self.source}"] if self.values or not skipped else []
        if skipped:
            reason = skipped[0].note.removeprefix("optional; ")
            parts.append(f"{', '.join(e.env for e in skipped)} not set (optional; {reason})")
        return "; ".join(parts)

    def raise_if_failed(self) -> None:
        raise_ranked(self.problems, _PRIORITY, "secrets could not be resolved")


def source_label(from_env: bool, file: Path | None) -> str:
    if from_env and file is not None:
        raise UsageError("--secrets-from-env and --secrets-file exclude each other", hint="pick one")
    return "environment" if from_env else f"file {file}" if file is not None else "ssm"


def too_short(env: str, origin: str, length: int) -> EnvironmentInvalid:
    return EnvironmentInvalid(
        f"{env} ({origin}) is {length} character{'s' if length != 1 else ''} long: too short to be masked "
        f"in output (the minimum is {MIN_LENGTH}), so it is not given to the tests",
        hint=f"use a longer value, or accept that it shows wherever it is printed: {env} = "
        '{ name = "...", allow_short = true } (or allow_short = true for all of [secrets])',
    )


def reserved_names(config: Config) -> dict[str, str]:
    """The variables a run sets besides secrets, and where each comes from."""
    owners = (
        ("export", config.export),
        ("env.defaults", config.env_defaults),
        ("env.required", config.required_env),
    )
    return {name: owner for owner, names in reversed(owners) for name in names}


def fetch_for_run(
    config: Config, *, from_env: bool, file: Path | None, reporter: Reporter
) -> tuple[dict[str, str], str]:
    """The pipeline's `secrets` step: resolve, list (names only), fail or hand the values over."""
    label = source_label(from_env, file)
    if not config.secrets.configured and file is None:
        return {}, "skipped: no [secrets] in config"
    resolution = resolve(
        config.secrets, label, file=file, stream=reporter.stream, reserved=reserved_names(config)
    )
    for entry in resolution.entries:
        reporter.info(f"    {entry.describe()}")
    resolution.raise_if_failed()
    return resolution.values, resolution.detail()


def resolve(
    config: SecretsConfig,
    source: str = "ssm",
    *,
    file: Path | None = None,
    stream: IO[str] | None = None,
    environ: Mapping[str, str] | None = None,
    reserved: Mapping[str, str] | None = None,
) -> Resolution:
    """`reserved`: variables the run sets otherwise (`reserved_names`), which no secret may replace."""
    env = os.environ if environ is None else environ
    resolution = Resolution(source, reserved=reserved or {})
    if source == "environment":
        _from_environment(config, env, resolution, stream)
    elif file is not None:
        _from_file(config, file, resolution, stream)
    elif config.configured:
        from ci_toolkit.secret_store.ssm import from_ssm

        from_ssm(config, env, resolution, stream)
    return resolution


# -- protection ------------------------------------------------------------------------------


def protect(value: str, stream: IO[str] | None = None, environ: Mapping[str, str] | None = None) -> None:
    """Register a value with REDACTOR (which masks its lines and every encoded form of it too);
    in GitHub Actions also have the runner mask it (`::add-mask::` on `stream`)."""
    REDACTOR.add(value)
    if stream is not None:
        github.add_mask(value, stream, environ)


# -- offline sources -------------------------------------------------------------------------


def _from_environment(
    config: SecretsConfig, env: Mapping[str, str], res: Resolution, stream: IO[str] | None
) -> None:
    for param in config.params:
        value = env.get(param.env)
        if value:
            protect(value, stream, env)
            res.add(param.env, value, "environment", allow_short=param.allow_short)
        elif param.optional:
            res.skip(param.env, "environment", "optional; not set in the environment")
        else:
            res.fail(
                param.env,
                "environment",
                SecretNotFound(
                    f"{param.env} is not set in the environment (--secrets-from-env; "
                    f"in Parameter Store it is {param.name})",
                    hint=f"export {param.env}=... first, or drop --secrets-from-env to read it from SSM",
                ),
            )
    for sp in config.paths:
        res.skip(
            f"{sp.path}/*",
            "environment",
            "names under a path are known only to SSM; variables already set reach the tests as they are",
        )


def _from_file(config: SecretsConfig, path: Path, res: Resolution, stream: IO[str] | None) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"--secrets-file {path}: cannot read: {getattr(exc, 'strerror', None) or exc}"
        ) from None
    values = parse_dotenv(text, str(path))
    for value, _ in values.values():
        protect(value, stream)
    declared = {p.env for p in config.params}
    for param in config.params:
        if param.env in values and values[param.env][0]:
            origin = f"{path.name}:{values[param.env][1]}"
            res.add(param.env, values[param.env][0], origin, allow_short=param.allow_short)
        elif param.optional:
            res.skip(param.env, path.name, f"optional; not in {path}")
        else:
            res.fail(
                param.env,
                path.name,
                SecretNotFound(
                    f"{param.env} is not in {path} (--secrets-file; in Parameter Store it is {param.name})",
                    hint=f"add a line `{param.env}=...` to {path}",
                ),
            )
    for name, (value, line) in values.items():
        if name in declared:
            continue
        origin = f"{path.name}:{line}"
        hint = f"remove line {line} from {path}, or rename the variable"
        if not res.refuse_name(name, origin, f"--secrets-file {path}:{line}", hint):
            res.add(
                name, value, origin, "not declared in [secrets]; given to the tests too", allow_short=True
            )
