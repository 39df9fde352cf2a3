"""Where records are kept: `open_store(uri)` and the protocol every store follows.

    [history]
    store = ".ci-history"            # a local directory (SQLite index), relative to the config
    store = "s3://bucket/prefix"     # S3 (boto3; AWS_ENDPOINT_URL for another endpoint)

Every store keeps, per run, the record (gzip JSON) and the run's run.json and junit.xml (gzip),
and an index of the runs that concurrent writers cannot corrupt: a run appears in `runs()` only
once all of its objects are written.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from ci_toolkit.errors import HistoryError, UsageError
from ci_toolkit.history.model import RunRecord

S3 = "s3://"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# S3's bucket naming rules: 3-63 characters, lowercase letters, digits, dots and hyphens.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_RUN_ID = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$")  # a directory name and an S3 key part


class Store(Protocol):
    uri: str  # as the user wrote it: named in every message

    def put(self, record: RunRecord, files: Mapping[str, bytes]) -> None:
        """Keep one run: its record and its files (name -> raw bytes; the store compresses them).
        A run already kept (same run_id) is replaced whole."""

    def runs(self, last: int | None = None, branch: str | None = None) -> Sequence[RunRecord]:
        """The kept runs, oldest first; `last`: only the newest N (after the branch filter)."""


def open_store(uri: str, root: Path) -> Store:
    """`uri`: a directory (relative to `root`, the config's directory) or s3://bucket/prefix.
    Nothing is read or written yet: a store that does not exist is made by its first `put`."""
    text = uri.strip()
    if not text:
        raise UsageError("the history store is empty", hint=EXAMPLES)
    if text.startswith(S3):
        bucket, _, prefix = text[len(S3) :].partition("/")
        if not _BUCKET.match(bucket):
            what = "names no bucket" if not bucket else f"has no valid bucket name ({bucket!r})"
            raise UsageError(f"history store {uri!r} {what}", hint="use s3://BUCKET/PREFIX")
        from ci_toolkit.history.s3 import S3Store  # boto3 only when S3 is used

        return S3Store(uri, bucket, prefix.strip("/"))
    if _SCHEME.match(text):
        raise UsageError(f"history store {uri!r}: unsupported scheme", hint=EXAMPLES)
    from ci_toolkit.history.local import LocalStore

    try:
        path = Path(text).expanduser()
    except RuntimeError as exc:  # `~name` of no such user, or `~` without HOME
        home = text.split("/", 1)[0]
        raise HistoryError(
            f"history store {uri}: {home} names no home directory here ({exc})",
            hint="write the path out in full, or fix the user's name after ~",
        ) from None
    return LocalStore(uri, path if path.is_absolute() else root / path)


def pack(record: RunRecord) -> bytes:
    """A record as its store keeps it: compact JSON, gzip (mtime 0: the same record, the same bytes)."""
    return compress(json.dumps(record.to_dict(), separators=(",", ":")).encode("utf-8"))


def unpack(data: bytes) -> RunRecord:
    """A kept record read back; ValueError (or a subclass) if it is not one."""
    loaded = json.loads(gzip.decompress(data))
    if not isinstance(loaded, dict):
        raise ValueError("not a JSON object")
    try:
        return RunRecord.from_dict(loaded)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a run record: {exc!r}") from None


def compress(data: bytes) -> bytes:
    # Level 6: zlib's default; 9 costs twice the time for a few percent on JUnit XML.
    return gzip.compress(data, compresslevel=6, mtime=0)


def checked_id(uri: str, run_id: str) -> str:
    """A run id names a directory and an S3 key: no separators, no `..`, no hidden names."""
    if not _RUN_ID.match(run_id):
        raise HistoryError(
            f"history store {uri}: run id {run_id!r} cannot be kept (letters, digits, . _ - only)",
            hint="record the run with `ci-toolkit history record DIR`, which makes its id",
        )
    return run_id


def skipped(uri: str, run_id: str, why: str) -> None:
    """One run of the index that cannot be read is left out, and said so: the others still count."""
    sys.stderr.write(f"warning: history store {uri}: run {run_id} skipped: {why}\n")


EXAMPLES = 'a directory (e.g. ".ci-history") or s3://bucket/prefix'
