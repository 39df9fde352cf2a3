"""A history store in S3 (s3://bucket/prefix), through boto3 (imported lazily: only when used).

    PREFIX/runs/<run_id>/run.json.gz, junit.xml.gz, ...   the run's files, written first
    PREFIX/index/<run_id>.json.gz                         the record: written last, one per run

The index is one object per run, not one shared object: concurrent writers never write the same
key, so none can lose another's run, and a writer killed mid-upload leaves at most orphan
`runs/` objects that no index object names. `runs()` lists `index/` and reads the newest records.

The client uses boto3's default credential chain (environment, web identity / OIDC, profiles,
SSO, container and instance credentials), AWS_REGION or AWS_DEFAULT_REGION (else us-east-1), and
AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 for another endpoint (botocore reads them itself).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ci_toolkit.errors import HistoryError
from ci_toolkit.history.model import RunRecord
from ci_toolkit.history.store import checked_id, compress, pack, skipped, unpack

DEFAULT_REGION = "us-east-1"
PARALLEL = 8  # records fetched at once: ~30 small objects are one round trip's wait, not 30
INDEX = "index"
RUNS = "runs"
SUFFIX = ".json.gz"
ATTEMPTS = 4  # botocore's "standard" retries (throttling, 5xx, a dropped connection), in all
CREDENTIAL_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "TokenRefreshRequired"}
)
DENIED_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "Forbidden", "403"})
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")  # botocore's order: S3's own first
REGION_CODES = frozenset(
    {"PermanentRedirect", "AuthorizationHeaderMalformed", "301", "IllegalLocationConstraintException"}
)


class S3Store:
    def __init__(self, uri: str, bucket: str, prefix: str) -> None:
        self.uri = uri
        self.bucket = bucket
        self.prefix = prefix
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._errors("reach"):
                try:
                    self._client = make_client()
                except ValueError as exc:  # botocore refused a setting: AWS_ENDPOINT_URL=minio:9000
                    raise self._bad_setting(exc) from None
        return self._client

    def key(self, *parts: str) -> str:
        return "/".join(part for part in (self.prefix, *parts) if part)

    # -- writing ----------------------------------------------------------------------------
    def put(self, record: RunRecord, files: Mapping[str, bytes]) -> None:
        run_id = checked_id(self.uri, record.run_id)
        with self._errors("write"):
            for name, data in files.items():  # compressed one at a time: one file in memory twice
                self._put(self.key(RUNS, run_id, f"{Path(name).name}.gz"), compress(data))
            self._put(self.key(INDEX, run_id + SUFFIX), pack(record))  # last: now the run exists

    def _put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/gzip")

    # -- reading ----------------------------------------------------------------------------
    def runs(self, last: int | None = None, branch: str | None = None) -> Sequence[RunRecord]:
        with self._errors("read"):
            pending = self.run_ids()[::-1]  # newest first
            found: list[RunRecord] = []
            with ThreadPoolExecutor(PARALLEL) as pool:
                while pending and (last is None or len(found) < last):
                    # Without a branch filter every record read is kept: read just as many; with
                    # one, a pool's worth at a time until enough of the branch's are found.
                    want = len(pending) if last is None else last - len(found)
                    size = want if branch is None else max(want, PARALLEL)
                    batch, pending = pending[:size], pending[size:]
                    for record in pool.map(self._load, batch):
                        if record is None or (branch is not None and record.branch != branch):
                            continue
                        if last is None or len(found) < last:
                            found.append(record)
        return found[::-1]

    def run_ids(self) -> list[str]:
        """Every indexed run, oldest first (run ids sort by time)."""
        start = self.key(INDEX) + "/"
        ids = []
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
        for page in pages:
            for item in page.get("Contents") or ():
                name = str(item["Key"])[len(start) :]
                if name.endswith(SUFFIX) and "/" not in name:
                    ids.append(name[: -len(SUFFIX)])
        return sorted(ids)

    def _load(self, run_id: str) -> RunRecord | None:
        import botocore.exceptions

        key = self.key(INDEX, run_id + SUFFIX)
        try:
            data = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except botocore.exceptions.ClientError as exc:
            if _code(exc) not in ("NoSuchKey", "404"):
                raise
            skipped(self.uri, run_id, f"s3://{self.bucket}/{key} was listed, then gone")
            return None
        try:
            return unpack(data)
        except (OSError, EOFError, ValueError) as exc:
            skipped(self.uri, run_id, f"s3://{self.bucket}/{key} is not a readable record: {exc}")
            return None

    # -- errors -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """botocore's failures as HistoryError: what happened to which bucket, and what to do."""
        import botocore.exceptions as bx

        try:
            yield
        except HistoryError:
            raise
        except (bx.NoCredentialsError, bx.PartialCredentialsError) as exc:
            raise HistoryError(
                f"history store {self.uri}: no AWS credentials to {doing} S3 bucket {self.bucket} ({exc})",
                hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or a role "
                "(aws-actions/configure-aws-credentials in GitHub Actions)",
            ) from None
        except (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError) as exc:
            raise HistoryError(
                f"history store {self.uri}: S3 bucket {self.bucket} cannot be reached at "
                f"{self._endpoint()}: {exc}",
                hint="check the network, and AWS_ENDPOINT_URL / AWS_REGION if they are set",
            ) from None
        except bx.ClientError as exc:
            raise self._client_error(exc, doing) from None
        except bx.BotoCoreError as exc:
            raise HistoryError(
                f"history store {self.uri}: S3 bucket {self.bucket} could not be used: {exc}",
                hint="check the AWS configuration (AWS_PROFILE, ~/.aws/config, AWS_ENDPOINT_URL)",
            ) from None

    def _client_error(self, exc: Any, doing: str) -> HistoryError:
        code = _code(exc)
        message = str(exc.response.get("Error", {}).get("Message") or code)
        if code == "NoSuchBucket":
            return HistoryError(
                f"history store {self.uri}: S3 bucket {self.bucket} does not exist",
                hint=f"create it (aws s3 mb s3://{self.bucket}), or fix the bucket in --store / "
                "[history] store",
            )
        if code in DENIED_CODES:
            scope = f"{self.bucket}/{self.prefix}/*" if self.prefix else f"{self.bucket}/*"
            return HistoryError(
                f"history store {self.uri}: access denied to {doing} S3 bucket {self.bucket}: {message}",
                hint=f"the credentials need s3:ListBucket on arn:aws:s3:::{self.bucket} and "
                f"s3:GetObject, s3:PutObject on arn:aws:s3:::{scope}",
            )
        if code in CREDENTIAL_CODES:
            return HistoryError(
                f"history store {self.uri}: S3 rejected the AWS credentials ({code}): {message}",
                hint="refresh or replace the credentials (AWS_ACCESS_KEY_ID, AWS_SESSION_TOKEN, AWS_PROFILE)",
            )
        if code in REGION_CODES:
            return HistoryError(
                f"history store {self.uri}: S3 bucket {self.bucket} is in another region ({code})",
                hint="set AWS_REGION to the bucket's region",
            )
        return HistoryError(
            f"history store {self.uri}: could not {doing} S3 bucket {self.bucket}: {code}: {message}",
            hint="a run's artifacts dir can be recorded again later (`ci-toolkit history record DIR`)",
        )

    def _bad_setting(self, exc: ValueError) -> HistoryError:
        names = [n for n in ENDPOINT_VARIABLES if os.environ.get(n)]
        given = ", ".join(f"{n}={os.environ[n]}" for n in names)
        if "endpoint" in str(exc).lower():
            return HistoryError(
                f"history store {self.uri}: S3 endpoint {given or 'from the AWS config'} is not a valid "
                f"endpoint URL ({exc})",
                hint="an endpoint is a URL with its scheme, e.g. AWS_ENDPOINT_URL=http://minio:9000",
            )
        return HistoryError(
            f"history store {self.uri}: the S3 client refused the AWS configuration: {exc}",
            hint="check AWS_REGION, AWS_ENDPOINT_URL and ~/.aws/config",
        )

    def _endpoint(self) -> str:
        client = self._client
        return str(client.meta.endpoint_url) if client is not None else "its endpoint"


def make_client() -> Any:
    import boto3
    from botocore.config import Config

    # botocore reads AWS_DEFAULT_REGION but not AWS_REGION, which the AWS CLI and
    # aws-actions/configure-aws-credentials set (and which wins there).
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    config = Config(
        retries={"total_max_attempts": ATTEMPTS, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=PARALLEL * 2,
        user_agent_extra="ci-toolkit",
    )
    return boto3.session.Session(region_name=region).client("s3", config=config)


def _code(exc: Any) -> str:
    return str(
        exc.response.get("Error", {}).get("Code")
        or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        or ""
    )
