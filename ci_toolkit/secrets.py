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

import difflib
import html
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ci_toolkit.config import SecretParam, SecretsConfig
from ci_toolkit.errors import (
    CiToolkitError,
    ConfigError,
    SecretAccessDenied,
    SecretError,
    SecretNoCredentials,
    SecretNotFound,
    UsageError,
)
from ci_toolkit.redact import REDACTOR

if TYPE_CHECKING:
    from ci_toolkit.aws import AwsFailure, ParameterStore
    from ci_toolkit.config import Config
    from ci_toolkit.ui import Reporter

_PRIORITY = (SecretNoCredentials, SecretAccessDenied, SecretNotFound, SecretError)
_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


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
        if not self.problems:
            return
        if len(self.problems) == 1:
            raise self.problems[0]
        ranked = sorted(
            self.problems,
            key=lambda e: next((i for i, k in enumerate(_PRIORITY) if isinstance(e, k)), len(_PRIORITY)),
        )
        text = "\n".join(f"  - {str(p).replace(chr(10), chr(10) + '    ')}" for p in ranked)
        raise type(ranked[0])(f"{len(ranked)} secrets could not be resolved:\n{text}")


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
        _from_ssm(config, env, resolution, stream)
    return resolution


# -- protection ------------------------------------------------------------------------------


def protect(value: str, stream: IO[str] | None = None, environ: Mapping[str, str] | None = None) -> None:
    """Register a value (and the forms it takes in XML, JSON and reprs) with REDACTOR; in
    GitHub Actions also print `::add-mask::` for it, line by line, straight to `stream`."""
    lines = [line.strip() for line in value.splitlines() if line.strip()]
    for variant in {value, *lines, *_encoded_forms(value)}:
        REDACTOR.add(variant)
    env = os.environ if environ is None else environ
    if stream is not None and env.get("GITHUB_ACTIONS", "").lower() == "true":
        for part in lines if len(lines) > 1 else [value]:
            stream.write(f"::add-mask::{_escape_command_data(part)}\n")
        stream.flush()


def _encoded_forms(value: str) -> set[str]:
    return {
        html.escape(value, quote=False),
        html.escape(value, quote=True),
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        repr(value)[1:-1],
    }


def _escape_command_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


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


def parse_dotenv(text: str, origin: str = ".env") -> dict[str, tuple[str, int]]:
    """`KEY=VALUE` lines (optional `export `), `#` comments, '...' literal and "..." escaped
    values (both may span lines). Returns name -> (value, line). Errors never quote a line."""
    values: dict[str, tuple[str, int]] = {}
    problems: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno, raw = i + 1, lines[i]
        i += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(raw)
        if match is None:
            problems.append(f"{origin}:{lineno}: expected KEY=VALUE")
            continue
        key, rest = match.group(1), match.group(2)
        if rest[:1] in ("'", '"'):
            quote, body = rest[0], rest[1:]
            end = _closing_quote(body, quote)
            while end is None and i < len(lines):
                body += "\n" + lines[i]
                i += 1
                end = _closing_quote(body, quote)
            if end is None:
                problems.append(f"{origin}:{lineno}: {key}: unterminated {quote} quote")
                continue
            trailing = body[end + 1 :].strip()
            if trailing and not trailing.startswith("#"):
                problems.append(f"{origin}:{lineno}: {key}: unexpected text after the closing quote")
                continue
            value = body[:end] if quote == "'" else _unescape(body[:end])
        else:
            value = re.split(r"\s+#", rest, maxsplit=1)[0].strip()
        values[key] = (value, lineno)
    if problems:
        raise ConfigError(
            "invalid secrets file:\n" + "\n".join(f"  - {p}" for p in problems),
            hint="lines are KEY=VALUE or export KEY=VALUE, # starts a comment; quote values with spaces",
        )
    return values


def _closing_quote(body: str, quote: str) -> int | None:
    j = 0
    while j < len(body):
        if quote == '"' and body[j] == "\\":
            j += 2
            continue
        if body[j] == quote:
            return j
        j += 1
    return None


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text, flags=re.S)


# -- Parameter Store -------------------------------------------------------------------------


def env_name(parameter: str) -> str:
    """`/team/test/svc/db-password` -> `DB_PASSWORD`."""
    leaf = parameter.rstrip("/").rsplit("/", 1)[-1]
    name = re.sub(r"[^A-Z0-9_]", "_", leaf.upper())
    return f"_{name}" if name[:1].isdigit() else name


class _Ssm:
    """One resolution against Parameter Store, with the context its error messages need."""

    def __init__(self, config: SecretsConfig, store: ParameterStore, env: Mapping[str, str]) -> None:
        self.config = config
        self.store = store
        self.env = env
        self._identity: str | None = None

    def identity(self) -> str:
        if self._identity is None:
            self._identity = self.store.identity()
        return self._identity

    def where(self) -> str:
        arn = self.identity()
        account = arn.split(":")[4] if arn.startswith("arn:") and arn.count(":") >= 5 else ""
        custom = any(k in self.env for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSM"))
        return (
            f"region {self.store.region}"
            + (f", account {account}" if account else "")
            + (f", endpoint {self.store.endpoint}" if custom else "")
        )

    def error(self, failure: AwsFailure, subject: str) -> CiToolkitError:
        """An AWS failure while reading `subject` (e.g. "SSM parameter /a/b (for B)")."""
        if failure.kind == "denied":
            return SecretAccessDenied(
                f"access denied reading {subject} as {self.identity()}: {failure.message}",
                hint="allow ssm:GetParameters and ssm:GetParametersByPath on "
                f"arn:aws:ssm:{self.store.region}:<account>:parameter/... in that identity's policy "
                "(plus kms:Decrypt on the key of a SecureString that uses a customer-managed key)",
            )
        if failure.kind == "credentials":
            return _rejected(failure, subject, self.store, self.env)
        if failure.kind == "region":
            return _no_region()
        hint = {
            "throttled": "Parameter Store kept throttling after every retry; run again later or "
            "read fewer parameters (paths fetch 10 per call)",
            "unreachable": "check the network and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SSM",
        }.get(failure.kind, "see the AWS error above")
        return SecretError(
            f"reading {subject} from SSM at {self.store.endpoint} failed: {failure.message}", hint=hint
        )

    def not_found(self, param: SecretParam) -> SecretNotFound:
        base = param.name.split(":", 1)[0]  # without a :version / :label selector
        parent = (base.rsplit("/", 1)[0] or "/") if base.startswith("/") else "/"
        try:
            if param.name.startswith("arn:"):
                raise ValueError("a shared parameter's ARN")
            siblings = self.store.list_names(parent)
            close = difflib.get_close_matches(param.name, siblings, n=3, cutoff=0.6)
            if close:
                near = f"; similar names under {parent}: {', '.join(close)}"
            elif siblings:
                near = f"; {parent} holds {len(siblings)} other parameter(s), none similar"
            else:
                near = f"; there is nothing under {parent} here"
        except Exception as exc:  # suggestions are a courtesy: listing may be denied
            near = f" (could not list {parent} to suggest names: {getattr(exc, 'message', exc)})"
        return SecretNotFound(
            f"SSM parameter {param.name} (for {param.env}) not found in {self.where()}{near}",
            hint="check the name and the region (secrets.region or AWS_REGION); "
            "mark it `optional = true` if the tests can run without it",
        )


def _from_ssm(config: SecretsConfig, env: Mapping[str, str], res: Resolution, stream: IO[str] | None) -> None:
    from ci_toolkit import aws

    subject = ", ".join(
        [*(f"{p.env} ({p.name})" for p in config.params), *(f"{p.path}/*" for p in config.paths)]
    )
    try:
        store = aws.ParameterStore(config.region, with_decryption=config.with_decryption)
        method = store.credential_method()
    except aws.AwsFailure as exc:
        res.problems.append(_rejected(exc, subject, None, env))
        return
    if method is None:
        required = [f"{p.env} ({p.name})" for p in config.params if not p.optional]
        required += [f"{p.path}/*" for p in config.paths if not p.optional]
        if required:
            res.problems.append(_no_credentials(required, store, env))
            return
        for p in config.params:
            res.skip(p.env, f"ssm {p.name}", "optional; no AWS credentials found")
        for sp in config.paths:
            res.skip(f"{sp.path}/*", f"ssm {sp.path}/*", "optional; no AWS credentials found")
        return
    if store.region is None:
        res.problems.append(_no_region())
        return
    res.source = f"SSM ({store.region}, credentials: {method})"
    ssm = _Ssm(config, store, env)
    try:
        _fetch_params(ssm, res, stream)
        _fetch_paths(ssm, res, stream)
    except aws.AwsFailure as exc:
        res.problems.append(ssm.error(exc, subject))


def _fetch_params(ssm: _Ssm, res: Resolution, stream: IO[str] | None) -> None:
    from ci_toolkit.aws import BATCH, AwsFailure

    names = list(dict.fromkeys(p.name for p in ssm.config.params))
    found: dict[str, Any] = {}
    missing: set[str] = set()
    denied: dict[str, AwsFailure] = {}
    for start in range(0, len(names), BATCH):
        batch = names[start : start + BATCH]
        try:
            got, absent = ssm.store.get(batch)
        except AwsFailure as exc:
            if exc.kind != "denied":
                raise
            got, absent = {}, []
            for name in batch:  # one denied name fails the whole call: find which
                try:
                    one, gone = ssm.store.get([name])
                except AwsFailure as single:
                    if single.kind != "denied":
                        raise
                    denied[name] = single
                    continue
                got.update(one)
                absent.extend(gone)
        for param in got.values():
            protect(param.value, stream, ssm.env)
        found.update(got)
        missing.update(absent)
    for p in ssm.config.params:
        origin = f"ssm {p.name}"
        if p.name in found:
            res.add(p.env, found[p.name].value, origin, found[p.name].type)
        elif p.name in denied:
            res.fail(p.env, origin, ssm.error(denied[p.name], f"SSM parameter {p.name} (for {p.env})"))
        elif p.optional:
            res.skip(p.env, origin, "optional; no such parameter")
        else:
            res.fail(p.env, origin, ssm.not_found(p))


def _fetch_paths(ssm: _Ssm, res: Resolution, stream: IO[str] | None) -> None:
    from ci_toolkit.aws import AwsFailure

    explicit = {p.env for p in ssm.config.params}
    owners: dict[str, str] = {}
    for sp in ssm.config.paths:
        origin = f"ssm {sp.path}/*"
        try:
            params = ssm.store.get_path(sp.path)
        except AwsFailure as exc:
            if exc.kind != "denied":
                raise
            res.fail(f"{sp.path}/*", origin, ssm.error(exc, f"SSM parameters under {sp.path}"))
            continue
        for param in params:
            protect(param.value, stream, ssm.env)
        if not params:
            if sp.optional:
                res.skip(f"{sp.path}/*", origin, "optional; no parameters under this path")
            else:
                res.fail(
                    f"{sp.path}/*",
                    origin,
                    SecretNotFound(
                        f"no SSM parameters under {sp.path} (secrets.paths) in {ssm.where()}",
                        hint="check the path and the region; mark it "
                        f'{{ path = "{sp.path}/", optional = true }} if the tests can run without it',
                    ),
                )
            continue
        for param in params:
            name = env_name(param.name)
            if name in explicit:
                continue  # an explicit `NAME = "..."` wins over a path
            if name in owners and owners[name] != param.name:
                res.fail(
                    name,
                    f"ssm {param.name}",
                    ConfigError(
                        f"secrets.paths: {owners[name]} and {param.name} both become {name}",
                        hint=f'map one explicitly: {name} = "{param.name}"',
                    ),
                )
                continue
            owners[name] = param.name
            res.add(name, param.value, f"ssm {param.name}", param.type)


def _no_region() -> ConfigError:
    return ConfigError(
        "no AWS region for Parameter Store",
        hint='set region = "eu-west-1" under [secrets], or AWS_REGION (aws-actions/configure-aws-credentials '
        "sets it from its aws-region input)",
    )


def _no_credentials(names: list[str], store: ParameterStore, env: Mapping[str, str]) -> SecretNoCredentials:
    tried = "\n".join(f"    {i}. {line}" for i, line in enumerate(store.sources_tried(env), 1))
    return SecretNoCredentials(
        f"no AWS credentials found to read {', '.join(names)} from SSM Parameter Store; tried:\n{tried}",
        hint=_credentials_hint(env),
    )


def _rejected(
    failure: AwsFailure, subject: str, store: ParameterStore | None, env: Mapping[str, str]
) -> SecretNoCredentials:
    if failure.operation == "AssumeRoleWithWebIdentity":
        what = f"could not assume role {env.get('AWS_ROLE_ARN', '?')} with the web identity (OIDC) token"
        hint = (
            "the role's trust policy must trust token.actions.githubusercontent.com for audience "
            "sts.amazonaws.com and a `sub` matching this repository and ref (repo:OWNER/REPO:...)"
        )
    else:
        method = ""
        if store is not None:
            try:
                method = f" ({store.credential_method()})"
            except Exception:
                method = ""
        what = f"the AWS credentials{method} were not usable"
        hint = _credentials_hint(env)
    return SecretNoCredentials(f"{what} while reading {subject}: {failure.message}", hint=hint)


def _credentials_hint(env: Mapping[str, str]) -> str:
    if env.get("GITHUB_ACTIONS", "").lower() == "true":
        token = (
            "the job may request an OIDC token but no role was assumed"
            if env.get("ACTIONS_ID_TOKEN_REQUEST_URL")
            else "this job cannot request an OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL is not set)"
        )
        return (
            f"{token}: the job needs `permissions: id-token: write` and, before ci-toolkit, a step "
            "`uses: aws-actions/configure-aws-credentials` (or ./actions/aws-secrets) with "
            "`role-to-assume: arn:aws:iam::<account>:role/<role>` and `aws-region`; pull requests "
            "from forks get no token, so mark secrets those runs can do without `optional = true`"
        )
    return (
        "log in (`aws sso login --profile NAME` and export AWS_PROFILE=NAME) or export credentials; "
        "offline, pass --secrets-from-env or --secrets-file PATH; or mark the secret `optional = true`"
    )
