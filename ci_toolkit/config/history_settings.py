"""`[history]`: where runs are recorded, and how many the reports look back over.

    [history]
    store = ".ci-history"           # a directory (relative to this config) or "s3://bucket/prefix"
    last = 30                       # runs the queries, badges and the summary's trend chart read

With a store, `integration-run` records every run when it ends (`ci-toolkit history record DIR`
does it for any finished run). `--store` on every history command overrides `store`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ci_toolkit.config.schema import Table

DEFAULT_LAST = 30


@dataclass(frozen=True)
class HistoryConfig:
    store: str | None = None  # as written: a path relative to the config's directory, or s3://…
    last: int = DEFAULT_LAST

    def to_dict(self) -> dict[str, Any]:
        return {"store": self.store, "last": self.last}


def parse(table: Table) -> HistoryConfig:
    store = table.get("store", str)
    if store is not None and not store.strip():
        table.problems.add(
            table.key("store"), 'empty; e.g. store = ".ci-history" or "s3://bucket/ci-history"'
        )
        store = None
    if store is not None and store.startswith("s3://") and not store[5:].split("/", 1)[0]:
        table.problems.add(table.key("store"), f"{store!r} names no bucket: use s3://BUCKET/PREFIX")
        store = None
    last = table.get("last", int, DEFAULT_LAST)
    if last < 1:
        table.problems.add(table.key("last"), f"must be 1 or more, got {last}")
        last = DEFAULT_LAST
    table.finish()
    return HistoryConfig(store=store, last=last)
