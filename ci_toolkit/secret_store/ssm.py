"""Resolving [secrets] against SSM Parameter Store, and the error messages that say what to do.

boto3 is imported only through `ci_toolkit.secret_store.aws`, when a resolution starts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from ci_toolkit.config.secret_params import SecretParam, SecretsConfig
from ci_toolkit.errors import (
    CiToolkitError,
    ConfigError,
    SecretAccessDenied,
    SecretError,
    SecretNoCredentials,
    SecretNotFound,
)
from ci_toolkit.output import github
from ci_toolkit.secret_store import Resolution, protect

if TYPE_CHECKING:
    from ci_toolkit.secret_store.aws import AwsFailure, ParameterStore


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
        account = _account(arn)
        custom = any(k in self.env for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SSM"))
        return (
            f"region {self.store.region}"
            + (f", account {account}" if account else "")
            + (f", endpoint {self.store.endpoint}" if custom else "")
        )

    def error(self, failure: AwsFailure, subject: str, resource: str = "/...") -> CiToolkitError:
        """An AWS failure while reading `subject` (e.g. "SSM parameter /a/b (for B)")."""
        if failure.kind == "denied":
            arn = self.identity()
            account = _account(arn) or "<account>"
            resource = resource if resource.startswith("/") else f"/{resource}"
            return SecretAccessDenied(
                f"access denied reading {subject} as {arn}: {failure.message}",
                hint="allow ssm:GetParameters and ssm:GetParametersByPath on "
                f"arn:aws:ssm:{self.store.region}:{account}:parameter{resource} in that identity's policy "
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


def from_ssm(config: SecretsConfig, env: Mapping[str, str], res: Resolution, stream: IO[str] | None) -> None:
    from ci_toolkit.secret_store import aws

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
    from ci_toolkit.secret_store.aws import BATCH, AwsFailure

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
            res.add(p.env, found[p.name].value, origin, found[p.name].type, allow_short=p.allow_short)
        elif p.name in denied:
            subject = f"SSM parameter {p.name} (for {p.env})"
            res.fail(p.env, origin, ssm.error(denied[p.name], subject, p.name.split(":", 1)[0]))
        elif p.optional:
            res.skip(p.env, origin, "optional; no such parameter")
        else:
            res.fail(p.env, origin, ssm.not_found(p))


def _fetch_paths(ssm: _Ssm, res: Resolution, stream: IO[str] | None) -> None:
    from ci_toolkit.secret_store.aws import AwsFailure

    explicit = {p.env for p in ssm.config.params}
    mapped = {p.name for p in ssm.config.params}  # mapped explicitly: not also by its leaf name
    owners: dict[str, str] = {}
    for sp in ssm.config.paths:
        origin = f"ssm {sp.path}/*"
        try:
            params = ssm.store.get_path(sp.path)
        except AwsFailure as exc:
            if exc.kind != "denied":
                raise
            res.fail(
                f"{sp.path}/*", origin, ssm.error(exc, f"SSM parameters under {sp.path}", f"{sp.path}/*")
            )
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
            if name in explicit or param.name in mapped:
                continue  # an explicit `NAME = "..."` wins over a path
            hint = f'map it explicitly: APP_{name} = "{param.name}", or move it out of {sp.path}'
            if res.refuse_name(name, f"ssm {param.name}", f"secrets.paths: {param.name}", hint):
                continue
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
            res.add(name, param.value, f"ssm {param.name}", param.type, allow_short=sp.allow_short)


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
    if github.enabled(environ=env):
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


def _account(arn: str) -> str:
    """The account id in `arn:aws:sts::123456789012:assumed-role/...`, or "" if it is no ARN."""
    return arn.split(":")[4] if arn.startswith("arn:") and arn.count(":") >= 5 else ""
