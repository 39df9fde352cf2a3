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


def partition(
    ids: Sequence[str], costs: Mapping[str, float], shards: int, setup: Mapping[str, float] | None = None
) -> list[list[str]]:
    """Longest-processing-time first: the costliest item goes to the shard where it ends soonest
    (ties: fewer tests, then the lower index). A test without a recorded cost gets the median of
    the recorded ones; with nothing recorded every test costs the same, which splits by count.

    `setup` is a module's shared fixture cost (its file -> seconds), paid again by every shard
    its tests land on. Such a module is one item, whole, unless it alone is more than a shard's
    fair share: then its tests are placed one by one, each paying the setup on a shard the module
    is not on yet. Deterministic for one collection and one cost table; each shard keeps
    collection order (so module and class fixtures are set up as few times as the split allows)."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    unique = list(dict.fromkeys(ids))
    # The split must not depend on the collection's order (pytest-randomly reorders per process):
    # it is computed over the sorted ids; each shard's list follows `ids`.
    ordered = sorted(unique)
    known = [costs[i] for i in ordered if i in costs]
    default = statistics.median(known) if known else 1.0
    weight = {i: max(costs.get(i, default), 0.0) for i in ordered}
    shared = {m: s for m, s in (setup or {}).items() if s > 0}
    by_module: dict[str, list[str]] = {}
    for test_id in ordered:
        by_module.setdefault(module_of(test_id), []).append(test_id)
    present = {m: shared[m] for m in by_module if m in shared}
    fair = (sum(weight.values()) + sum(present[m] for m in sorted(present))) / shards
    items: list[tuple[float, str, list[str], float]] = []  # (cost, sort id, tests, setup if new)
    for module, tests in by_module.items():
        whole = sum(weight[t] for t in tests) + present.get(module, 0.0)
        if module in present and whole <= fair:
            items.append((whole, tests[0], tests, 0.0))
        else:
            items += [(weight[t], t, [t], present.get(module, 0.0)) for t in tests]
    loads = [0.0] * shards
    counts = [0] * shards
    modules: list[set[str]] = [set() for _ in range(shards)]
    owner: dict[str, int] = {}
    for cost, _, tests, extra in sorted(items, key=lambda item: (-item[0], item[1])):
        module = module_of(tests[0])
        ends = [loads[k] + (extra if module not in modules[k] else 0.0) + cost for k in range(shards)]
        k = min(range(shards), key=lambda j: (ends[j], counts[j], j))
        loads[k] = ends[k]
        counts[k] += len(tests)
        modules[k].add(module)
        for test_id in tests:
            owner[test_id] = k
    out: list[list[str]] = [[] for _ in range(shards)]
    for test_id in unique:
        out[owner[test_id]].append(test_id)
    return out


def module_of(test_id: str) -> str:
    return test_id.split("::", 1)[0]


def estimate(ids: Sequence[str], costs: Mapping[str, float], setup: Mapping[str, float]) -> float:
    """What one shard's tests are expected to take: their costs plus each module's shared setup once."""
    modules = {module_of(i) for i in ids}
    return sum(costs.get(i, 0.0) for i in ids) + sum(setup.get(m, 0.0) for m in modules)


def parse_shard(text: str) -> tuple[int, int]:
    """ "K/N" -> (K, N), 1 <= K <= N."""
    index, sep, count = text.strip().partition("/")
    if not sep or not index.isdigit() or not count.isdigit() or not 1 <= int(index) <= int(count):
        raise ValueError(f"a shard is K/N with 1 <= K <= N (e.g. 2/4), not {text!r}")
    return int(index), int(count)


def digest(ids: Sequence[str]) -> str:
    """Of the collection as a set: equal in every shard whatever order each collected in."""
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]


def read_costs(path: str | None) -> tuple[dict[str, float], dict[str, float]]:
    """ci-toolkit's cost table: `{"tests": {id: seconds}, "setup": {module file: seconds}}`."""
    if not path or not os.path.exists(path):
        return {}, {}
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    tests = {str(k): float(v) for k, v in data.get("tests", {}).items()}
    return tests, {str(k): float(v) for k, v in data.get("setup", {}).items()}


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
    costs, setup = read_costs(os.environ.get("CI_TOOLKIT_SHARD_COSTS"))
    pool = [item.nodeid for item in items]
    mine = set(partition(pool, costs, count, setup)[index - 1])
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
            "estimated_seconds": round(estimate(sorted(mine), costs, setup), 3),
        }
        _write(report, json.dumps(data) + "\n")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = os.environ.get("CI_TOOLKIT_PHASES")
    if not path or os.environ.get("PYTEST_XDIST_WORKER"):  # with xdist the controller writes
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{report.when}\t{report.duration:.6f}\t{report.nodeid}\n")
