"""`--shard K/N`: which part of the collection a run takes."""

from __future__ import annotations

from dataclasses import dataclass

from ci_toolkit.errors import UsageError


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as people count shards
    count: int

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"


def parse(text: str | None) -> Shard | None:
    """`--shard K/N` (or CI_TOOLKIT_SHARD); None or "" is no shard."""
    if text is None or not text.strip():
        return None
    from ci_toolkit.pytest_shard import parse_shard

    try:
        return Shard(*parse_shard(text))
    except ValueError as exc:
        raise UsageError(f"--shard: {exc}", hint="e.g. --shard 2/4 runs the second of four shards") from exc
