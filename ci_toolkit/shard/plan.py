"""`ci-toolkit shard plan`: the matrix cells that run every shard, and what each should take.

The cells are `strategy.matrix` JSON: one per shard, times the `[matrix]` cells when there are
some (their product). Each cell's `shard` goes to `integration-run --shard`; its `slug` names the
cell's artifact. The estimate is the split of the ledger's own tests: the real split happens
inside each shard's pytest over the collection it takes (`pytest_shard`), which adds new tests
at the median cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ci_toolkit.shard.ledger import Ledger


@dataclass(frozen=True)
class Estimate:
    label: str  # "2/4"
    tests: int
    seconds: float


def cells(count: int, matrix_cells: Sequence[Mapping[str, str]] = ()) -> dict[str, list[dict[str, str]]]:
    out: list[dict[str, str]] = []
    for cell in matrix_cells or [{}]:
        for index in range(1, count + 1):
            part = f"shard-{index}-of-{count}"
            slug = f"{cell['slug']}-{part}" if "slug" in cell else part
            name = f"{cell['name']} shard {index}/{count}" if "name" in cell else f"shard {index}/{count}"
            out.append({**cell, "shard": f"{index}/{count}", "name": name, "slug": slug})
    return {"include": out}


def estimate(ledger: Ledger, count: int) -> list[Estimate]:
    from ci_toolkit.pytest_shard import estimate as expected
    from ci_toolkit.pytest_shard import partition

    costs, setup = ledger.costs(), ledger.shared_setup()
    parts = partition(sorted(costs), costs, count, setup)
    return [
        Estimate(f"{k}/{count}", len(part), expected(part, costs, setup)) for k, part in enumerate(parts, 1)
    ]


def balance(seconds: Sequence[float]) -> float | None:
    """Slowest shard / mean: 1.0 is perfectly even."""
    mean = sum(seconds) / len(seconds) if seconds else 0.0
    return max(seconds) / mean if mean > 0 else None
