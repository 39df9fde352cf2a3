"""Secrets for the tests: AWS SSM Parameter Store, or offline `--secrets-from-env` / `--secrets-file`.

Values go to the test subprocess (and to `migrations.dsn` as `{env.NAME}` with
`migrations = true`) and nowhere else: not compose, not `$GITHUB_ENV`, no file. Each value is
registered with `REDACTOR` the moment it is known and, in GitHub Actions, announced with
`::add-mask::` before anything else is printed.

`optional = true` means the run goes on without the value when it is *absent*: no AWS
credentials at all (a laptop without AWS, a pull request from a fork) or no such parameter.
It does not cover AWS that is there but broken — access denied, rejected or expired
credentials, an endpoint that does not answer: those fail even for optional secrets, because
skipping would quietly turn a misconfigured role into tests that never run.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ci_toolkit.config.secret_params import SecretsConfig
from ci_toolkit.errors import (
    CiToolkitError,
    ConfigError,
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
    from ci_toolkit.config.loader import Config
    from ci_toolkit.output.console import Reporter

__all__ = ["Entry", "Resolution", "fetch_for_run", "parse_dotenv", "protect", "resolve", "source_label"]

_PRIORITY = (SecretNoCredentials, SecretAccessDenied, SecretNotFound, SecretError)


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

    def add(self, env: str, value: str, origin: str, note: str = "") -> None:
        self.values[env] = value
        if 0 < len(value) < MIN_LENGTH:  # REDACTOR ignores values this short: they would mask words
            note = (
                f"{note + '; ' if note else ''}shorter than {MIN_LENGTH} characters, so not masked in output"
            )
        self.entries.append(Entry(env, origin, "ok", note))

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


def fetch_for_run(
    config: Config, *, from_env: bool, file: Path | None, reporter: Reporter
) -> tuple[dict[str, str], str]:
    """The pipeline's `secrets` step: resolve, list (names only), fail or hand the values over."""
    label = source_label(from_env, file)
    if not config.secrets.configured and file is None:
        return {}, "skipped: no [secrets] in config"
    resolution = resolve(config.secrets, label, file=file, stream=reporter.stream)
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
) -> Resolution:
    env = os.environ if environ is None else environ
    resolution = Resolution(source)
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
    """Register a value (and its lines, and the forms it takes in XML, JSON and reprs) with
    REDACTOR; in GitHub Actions also have the runner mask it (`::add-mask::` on `stream`)."""
    lines = [line.strip() for line in value.splitlines() if line.strip()]
    for variant in {value, *lines, *_encoded_forms(value)}:
        REDACTOR.add(variant)
    if stream is not None:
        github.add_mask(value, stream, environ)


def _encoded_forms(value: str) -> set[str]:
    return {
        html.escape(value, quote=False),
        html.escape(value, quote=True),
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
    }


# -- offline sources -------------------------------------------------------------------------


def _from_environment(
    config: SecretsConfig, env: Mapping[str, str], res: Resolution, stream: IO[str] | None
) -> None:
    for param in config.params:
        value = env.get(param.env)
        if value:
            protect(value, stream, env)
            res.add(param.env, value, "environment")
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
            res.add(param.env, values[param.env][0], f"{path.name}:{values[param.env][1]}")
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
        if name not in declared:
            res.add(name, value, f"{path.name}:{line}", "not declared in [secrets]; given to the tests too")
