"""Where records are kept: `open_store(uri)` and the protocol every store follows.

    [history]
    store = ".ci-history"            # a local directory (SQLite index), relative to the config
    store = "s3://bucket/prefix"     # S3 (boto3; AWS_ENDPOINT_URL for another endpoint)

Every store keeps, per run, the record (gzip JSON) and the run's run.json and junit.xml (gzip),
and an index of the runs that concurrent writers cannot corrupt: a run appears in `runs()` only
once all of its objects are written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from ci_toolkit.history.model import RunRecord


class Store(Protocol):
    uri: str  # as the user wrote it: named in every message

    def put(self, record: RunRecord, files: Mapping[str, bytes]) -> None:
        """Keep one run: its record and its files (name -> raw bytes; the store compresses them).
        A run already kept (same run_id) is replaced whole."""

    def runs(self, last: int | None = None, branch: str | None = None) -> Sequence[RunRecord]:
        """The kept runs, oldest first; `last`: only the newest N (after the branch filter)."""


def open_store(uri: str, root: Path) -> Store:
    """`uri`: a directory (relative to `root`, the config's directory) or s3://bucket/prefix."""
    raise NotImplementedError  # filled in by history/local.py and history/s3.py
