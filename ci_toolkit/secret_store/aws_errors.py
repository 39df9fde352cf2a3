"""boto3/botocore failures sorted into the kinds ci-toolkit reports differently.

`classify` turns a boto3/botocore exception into an `AwsFailure` with a `kind` (anything
else is re-raised); `ssm.py` turns each kind into a message that says what to do.
botocore is imported only inside `classify`, when there is a failure to sort.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied", "KMSAccessDeniedException"})
REJECTED_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "AuthFailure",
    }
)


class AwsFailure(Exception):
    """kind: credentials | denied | throttled | unreachable | region | other."""

    def __init__(self, kind: str, message: str, *, code: str = "", operation: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code
        self.operation = operation


def classify(exc: BaseException) -> AwsFailure:
    """Sort a boto3/botocore exception into the kinds ci-toolkit reports differently."""
    import botocore.exceptions as bx

    if isinstance(exc, AwsFailure):
        return exc
    if isinstance(exc, bx.ClientError):
        code, message = _error_code(exc.response)
        operation = getattr(exc, "operation_name", "") or ""
        if operation in ("AssumeRoleWithWebIdentity", "AssumeRole", "GetRoleCredentials"):
            kind = "credentials"
        elif code in DENIED_CODES:
            kind = "denied"
        elif code in REJECTED_CODES:
            kind = "credentials"
        elif code in THROTTLING_CODES:
            kind = "throttled"
        else:
            kind = "other"
        return AwsFailure(kind, f"{code}: {message}" if message else code, code=code, operation=operation)
    if isinstance(exc, bx.NoRegionError):
        return AwsFailure("region", str(exc))
    credential_errors = (
        bx.NoCredentialsError,
        bx.PartialCredentialsError,
        bx.CredentialRetrievalError,
        bx.InvalidConfigError,
        bx.TokenRetrievalError,
        bx.SSOError,
        bx.ProfileNotFound,
        bx.ConfigParseError,
        bx.UnknownCredentialError,
    )
    if isinstance(exc, credential_errors):
        return AwsFailure("credentials", str(exc), code=type(exc).__name__)
    if isinstance(exc, bx.ConnectionError | bx.HTTPClientError):
        return AwsFailure("unreachable", str(exc), code=type(exc).__name__)
    if isinstance(exc, bx.BotoCoreError):
        return AwsFailure("other", str(exc), code=type(exc).__name__)
    if isinstance(exc, ValueError) and str(exc).startswith("Invalid endpoint"):
        # botocore's answer to AWS_ENDPOINT_URL=minio:9000 (no scheme) when it makes a client
        message = f"{exc}: an endpoint is a URL, e.g. http://minio:9000 (AWS_ENDPOINT_URL)"
        return AwsFailure("unreachable", message, code="InvalidEndpoint")
    raise exc


def _error_code(response: Mapping[str, Any]) -> tuple[str, str]:
    error = response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    # Some AWS-compatible endpoints (moto's IAM checks) answer JSON-protocol calls with an XML
    # <ErrorResponse>; botocore then reports the HTTP status as the code. Read the XML.
    if message.lstrip().startswith("<"):
        inner_code = re.search(r"<Code>([^<]*)</Code>", message)
        inner_message = re.search(r"<Message>([^<]*)</Message>", message)
        code = inner_code.group(1) if inner_code else code
        message = inner_message.group(1) if inner_message else ""
    return code or "Unknown", message
