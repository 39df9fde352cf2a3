"""AWS SSM Parameter Store through boto3: the client, its session and the credential chain.

This is the only module that imports boto3, lazily (`aws_errors` imports botocore's
exceptions, lazily too, to sort failures).

The standard credential chain applies (environment, web identity / OIDC via AWS_ROLE_ARN +
AWS_WEB_IDENTITY_TOKEN_FILE, profiles with SSO / assume-role / credential_process, container
credentials), and so do AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SSM (boto3 >= 1.28 reads them).
One deviation: the EC2 instance-metadata endpoint is asked only on an EC2 instance (recognised
from local DMI / hypervisor files) or when AWS_EC2_METADATA_SERVICE_ENDPOINT is set, so a laptop
run never waits for 169.254.169.254.

Failures are raised as `AwsFailure` with a `kind` (see `aws_errors`); `ssm.py` turns them
into messages. `AwsFailure` and `classify` are re-exported here so callers import one module.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.secret_store.aws_errors import (
    DENIED_CODES,
    REJECTED_CODES,
    THROTTLING_CODES,
    AwsFailure,
    classify,
)

__all__ = [
    "BACKOFF_BASE",
    "BATCH",
    "DENIED_CODES",
    "REJECTED_CODES",
    "THROTTLE_ROUNDS",
    "THROTTLING_CODES",
    "TOTAL_ATTEMPTS",
    "AwsFailure",
    "Parameter",
    "ParameterStore",
    "classify",
    "metadata_endpoint_wanted",
    "on_ec2",
]

BATCH = 10  # GetParameters takes at most 10 names
TOTAL_ATTEMPTS = 6  # botocore's own retries per call ("standard" mode: jittered exponential backoff)
THROTTLE_ROUNDS = 4  # ... and on ThrottlingException after those, this many more rounds
BACKOFF_BASE = 1.0  # seconds; doubled each round, with full jitter
_EC2_MARKERS = (
    ("/sys/hypervisor/uuid", lambda text: text.startswith("ec2")),
    ("/sys/devices/virtual/dmi/id/board_asset_tag", lambda text: text.startswith("i-")),
    ("/sys/devices/virtual/dmi/id/sys_vendor", lambda text: "amazon ec2" in text),
)


@dataclass(frozen=True)
class Parameter:
    name: str
    value: str
    type: str  # String | StringList | SecureString


class ParameterStore:
    """A Parameter Store client with retries, batching and pagination, and credential diagnostics."""

    def __init__(self, region: str | None, *, with_decryption: bool = True) -> None:
        import boto3
        import botocore.exceptions
        from botocore.config import Config

        self.with_decryption = with_decryption
        self.imds_consulted = metadata_endpoint_wanted()
        try:
            # botocore reads AWS_DEFAULT_REGION but not AWS_REGION, which the AWS CLI and
            # aws-actions/configure-aws-credentials use (and which wins there).
            self.session = boto3.Session(region_name=region or os.environ.get("AWS_REGION") or None)
        except botocore.exceptions.BotoCoreError as exc:  # ProfileNotFound, a malformed config file
            raise classify(exc) from None
        if not self.imds_consulted:
            _resolver(self.session).remove("iam-role")
        self.region: str | None = self.session.region_name
        self._config = Config(
            retries={"total_max_attempts": TOTAL_ATTEMPTS, "mode": "standard"},
            connect_timeout=5,
            read_timeout=20,
            user_agent_extra="ci-toolkit",
        )
        self._clients: dict[str, Any] = {}

    # -- credentials -----------------------------------------------------------------------
    def credential_method(self) -> str | None:
        """Which source of the chain has credentials (`env`, `assume-role-with-web-identity`,
        `sso`, ...), or None when none has. Reads only local files and the environment."""
        try:
            creds = self.session.get_credentials()
        except Exception as exc:
            raise classify(exc) from None
        return None if creds is None else str(getattr(creds, "method", "unknown"))

    def sources_tried(self, environ: Mapping[str, str] | None = None) -> list[str]:
        env = os.environ if environ is None else environ
        methods = [getattr(p, "METHOD", "?") for p in _resolver(self.session).providers]
        seen: list[str] = []
        for method in [*methods, *([] if self.imds_consulted else ["iam-role"])]:
            line = _describe_source(method, env, self.imds_consulted, self.session.profile_name)
            if line and line not in seen:
                seen.append(line)
        return seen

    # -- reads -----------------------------------------------------------------------------
    def get(self, names: Sequence[str]) -> tuple[dict[str, Parameter], list[str]]:
        """Fetch by name, 10 per call. Returns (found by requested name, names that do not exist)."""
        found: dict[str, Parameter] = {}
        unique = list(dict.fromkeys(names))
        for start in range(0, len(unique), BATCH):
            batch = unique[start : start + BATCH]
            answer = self._call("ssm", "get_parameters", Names=batch, WithDecryption=self.with_decryption)
            by_name = {}
            for item in answer.get("Parameters", []):
                param = Parameter(item["Name"], item["Value"], item.get("Type", "String"))
                by_name[item["Name"]] = param
                if item.get("ARN"):
                    by_name[item["ARN"]] = param
                if item.get("Selector"):
                    by_name[item["Name"] + item["Selector"]] = param
            found.update({name: by_name[name] for name in batch if name in by_name})
        return found, [name for name in unique if name not in found]

    def get_path(self, path: str, *, recursive: bool = True) -> list[Parameter]:
        return [
            Parameter(i["Name"], i["Value"], i.get("Type", "String")) for i in self._by_path(path, recursive)
        ]

    def list_names(self, path: str) -> list[str]:
        """Names directly under `path` (no values decrypted), for "did you mean" suggestions."""
        return [item["Name"] for item in self._by_path(path, recursive=False, decrypt=False)]

    def _by_path(self, path: str, recursive: bool, decrypt: bool | None = None) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "Path": path,
                "Recursive": recursive,
                "WithDecryption": self.with_decryption if decrypt is None else decrypt,
                "MaxResults": BATCH,
            }
            if token:
                kwargs["NextToken"] = token
            page = self._call("ssm", "get_parameters_by_path", **kwargs)
            yield from page.get("Parameters", [])
            token = page.get("NextToken")
            if not token:
                return

    def identity(self) -> str:
        """The caller's ARN from sts:GetCallerIdentity (needs no permission), or why not known."""
        try:
            return str(self._call("sts", "get_caller_identity")["Arn"])
        except AwsFailure as exc:
            return f"unknown ({exc.message})"

    @property
    def endpoint(self) -> str:
        try:
            return str(self._client("ssm").meta.endpoint_url)
        except AwsFailure:  # no client could be made (an endpoint that is not a URL): say what was given
            given = os.environ.get("AWS_ENDPOINT_URL_SSM") or os.environ.get("AWS_ENDPOINT_URL")
            return given or "(no endpoint)"

    # -- plumbing --------------------------------------------------------------------------
    def _client(self, service: str) -> Any:
        if service not in self._clients:
            try:
                self._clients[service] = self.session.client(service, config=self._config)
            except Exception as exc:
                raise classify(exc) from None
        return self._clients[service]

    def _call(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        method: Callable[..., dict[str, Any]] = getattr(self._client(service), operation)
        for attempt in range(THROTTLE_ROUNDS + 1):
            try:
                return method(**kwargs)
            except Exception as exc:
                failure = classify(exc)
                if failure.kind != "throttled" or attempt == THROTTLE_ROUNDS:
                    raise failure from None
                time.sleep(random.uniform(0, BACKOFF_BASE * 2**attempt))
        raise AssertionError("unreachable")


def metadata_endpoint_wanted(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    if env.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
        return False
    return bool(env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT")) or on_ec2()


def on_ec2() -> bool:
    for path, matches in _EC2_MARKERS:
        try:
            text = Path(path).read_text(errors="replace").strip().lower()
        except OSError:
            continue
        if matches(text):
            return True
    return False


def _resolver(session: Any) -> Any:
    return session._session.get_component("credential_provider")


def _describe_source(method: str, env: Mapping[str, str], imds: bool, profile: str) -> str:
    def state(*names: str) -> str:
        present = [n for n in names if env.get(n)]
        if not present:
            return "not set"
        return "set" if len(present) == len(names) else f"only {', '.join(present)} set"

    if method == "env":
        keys = state("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
        return f"environment AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY ({keys})"
    if method == "assume-role-with-web-identity":
        return (
            "web identity / OIDC: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE "
            f"({state('AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE')})"
        )
    if method in ("assume-role", "sso", "shared-credentials-file", "custom-process", "config-file", "login"):
        files = [
            env.get("AWS_CONFIG_FILE", "~/.aws/config"),
            env.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
        ]
        existing = [f for f in files if Path(f).expanduser().is_file()]
        where = ", ".join(existing) if existing else f"neither {files[0]} nor {files[1]} exists"
        return f"profile {profile!r} (keys, SSO, assume-role, credential_process): {where}"
    if method == "container-role":
        return (
            "container credentials AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI "
            f"({state('AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_CREDENTIALS_FULL_URI')})"
        )
    if method == "iam-role":
        if env.get("AWS_EC2_METADATA_DISABLED", "").lower() == "true":
            return "EC2 instance metadata (disabled by AWS_EC2_METADATA_DISABLED)"
        return "EC2 instance metadata" + ("" if imds else " (not asked: this machine is not an EC2 instance)")
    return ""  # ec2-credentials-file, boto-config: legacy, folded into the profile line
