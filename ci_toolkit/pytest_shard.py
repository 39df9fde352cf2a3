"""Loaded into the test subprocess with `-p ci_toolkit.pytest_shard`; imports nothing of ci_toolkit.

Two jobs inside pytest, both for the shard planner:
- record every test's phase timings (setup, call, teardown apart) for the durations ledger
  (CI_TOOLKIT_PHASES: one `when<TAB>seconds<TAB>nodeid` line per phase) and the whole collection
  (CI_TOOLKIT_COLLECTED: one id per line, before any deselection), so stale ids can be dropped;
- with CI_TOOLKIT_SHARD=K/N, keep only shard K's tests. The collection is taken once, here, and
  split by `partition` over the costs ci-toolkit computed from the ledger (CI_TOOLKIT_SHARD_COSTS),
  so every shard of one collection computes the same split. What it kept goes to
  CI_TOOLKIT_SHARD_REPORT (JSON), which is how ci-toolkit tells "0 tests in this shard" from
  pytest's "collected nothing" (both exit 5).

`partition` is also what `ci-toolkit shard` and the benchmarks call: the one balancing algorithm.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import statistics
from collections.abc import Generator, Mapping, Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import pytest

# pytest's own marker (`pytest.hookimpl` is this object): ci-toolkit imports this module for
# `partition` without paying for pytest's import.
hookimpl = pluggy.HookimplMarker("pytest")


def partition(ids: Sequence[str], costs: Mapping[str, float], shards: int) -> list[list[str]]:
    """Longest-processing-time first: the costliest test goes to the least loaded shard (ties:
    fewer tests, then the lower index). A test without a recorded cost gets the median of the
    recorded ones; with nothing recorded every test costs the same, which splits by count.
    Deterministic for one collection and one cost table; each shard keeps collection order (so
    module and class fixtures are set up as few times as the split allows)."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    unique = list(dict.fromkeys(ids))
    known = [costs[i] for i in unique if i in costs]
    default = statistics.median(known) if known else 1.0
    weight = {i: max(costs.get(i, default), 0.0) for i in unique}
    heap = [(0.0, 0, k) for k in range(shards)]
    owner: dict[str, int] = {}
    for test_id in sorted(unique, key=lambda i: (-weight[i], i)):
        load, count, k = heapq.heappop(heap)
        owner[test_id] = k
        heapq.heappush(heap, (load + weight[test_id], count + 1, k))
    out: list[list[str]] = [[] for _ in range(shards)]
    for test_id in unique:
        out[owner[test_id]].append(test_id)
    return out


def parse_shard(text: str) -> tuple[int, int]:
    """ "K/N" -> (K, N), 1 <= K <= N."""
    index, sep, count = text.strip().partition("/")
    if not sep or not index.isdigit() or not count.isdigit() or not 1 <= int(index) <= int(count):
        raise ValueError(f"a shard is K/N with 1 <= K <= N (e.g. 2/4), not {text!r}")
    return int(index), int(count)


def digest(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def _writer() -> bool:
    """Files about the collection are written once: by the only process, or xdist's first worker
    (every worker collects the same tests)."""
    return os.environ.get("PYTEST_XDIST_WORKER") in (None, "gw0")


def _write(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


@hookimpl(hookwrapper=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> Generator[None, None, None]:
    collected = os.environ.get("CI_TOOLKIT_COLLECTED")
    if collected and _writer():
        _write(collected, "".join(f"{item.nodeid}\n" for item in items))
    yield  # -m, -k and the other plugins deselect first: shards split what is left
    spec = os.environ.get("CI_TOOLKIT_SHARD")
    if not spec:
        return
    index, count = parse_shard(spec)
    costs: dict[str, float] = {}
    costs_file = os.environ.get("CI_TOOLKIT_SHARD_COSTS")
    if costs_file and os.path.exists(costs_file):
        with open(costs_file, encoding="utf-8") as fh:
            costs = {str(k): float(v) for k, v in json.load(fh).items()}
    pool = [item.nodeid for item in items]
    mine = set(partition(pool, costs, count)[index - 1])
    kept = [item for item in items if item.nodeid in mine]
    dropped = [item for item in items if item.nodeid not in mine]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept
    report = os.environ.get("CI_TOOLKIT_SHARD_REPORT")
    if report and _writer():
        data = {
            "shard": f"{index}/{count}",
            "tests": len(pool),
            "selected": len(kept),
            "collection": digest(pool),
            "estimated_seconds": round(sum(costs.get(i, 0.0) for i in mine), 3),
        }
        _write(report, json.dumps(data) + "\n")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = os.environ.get("CI_TOOLKIT_PHASES")
    if not path or os.environ.get("PYTEST_XDIST_WORKER"):  # with xdist the controller writes
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{report.when}\t{report.duration:.6f}\t{report.nodeid}\n")
