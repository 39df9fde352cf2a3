"""What the benchmarks promise (GitHub issue 7's targets, issue 18's for health-gated stacks, those
for fast re-runs: warm leases and snapshots, issue 13's for balanced shards, issue 14's for the
install in Actions) and the reference figures measured once before on this machine; which
targets a run's figures meet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# (key in results, label, how it is compared, threshold)
TARGETS = (
    ("readiness.ratio_vs_limit", "readiness <= 1.10x the physical limit", "<=", 1.10),
    ("readiness.speedup_vs_wait_1s", ">= 1.55x faster than `up --wait`, 1 s healthchecks", ">=", 1.55),
    ("readiness.speedup_vs_wait_5s", ">= 3.7x faster than `up --wait`, 5 s healthchecks", ">=", 3.7),
    ("overhead_seconds", "integration-run overhead <= 0.5 s over by hand", "<=", 0.5),
    ("help_seconds", "`ci-toolkit --help` <= 0.25 s cold (median)", "<=", 0.25),
    (
        "health_gated.ratio_vs_limit",
        "health-gated stack (30 s healthcheck): up -> ready <= 1.25x its physical limit",
        "<=",
        1.25,
    ),
    ("warm.first_test_seconds", "warm re-run (`--reuse`): process start -> first test <= 0.5 s", "<=", 0.5),
    (
        "snapshot.speedup_vs_fresh",
        "snapshot hit >= 5x faster to the first test than a fresh run (heavy migrations)",
        ">=",
        5.0,
    ),
    ("shards.balance_ours", "4 shards from a recorded ledger: slowest shard <= 1.15x the mean", "<=", 1.15),
    (
        "shards.balance_vs_pytest_split",
        "shards at least as even as pytest-split's (our slowest/mean over theirs <= 1.00x)",
        "<=",
        1.0,
    ),
    (
        "install.uv_warm_seconds",
        "`actions/setup` with uv, warm cache (run by act): <= 10 s",
        "<=",
        10.0,
    ),
    ("history.badges_per_second", "badge generation >= 50 badges/s", ">=", 50.0),
    ("history.store_writes_per_second", "local history store writes >= 20 runs/s", ">=", 20.0),
    (
        "onboard.worst_repo_seconds",
        "init --batch, 20 repositories at --concurrency 4: worst <= 15 s",
        "<=",
        15.0,
    ),
    ("onboard.batch_vs_serial", "init --batch faster than 20 x one repository alone (< 1.00x)", "<=", 0.999),
)
REFERENCE = {"limit": 1.60, "wait_default": 31.6, "wait_5s": 6.6, "wait_1s": 2.75, "down": 0.83}


def lookup(results: Mapping[str, Any], dotted: str) -> Any:
    value: Any = results
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def check_targets(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, label, op, threshold in TARGETS:
        value = lookup(results, key)
        met = None if value is None else (value <= threshold if op == "<=" else value >= threshold)
        rows.append({"key": key, "target": label, "threshold": threshold, "measured": value, "met": met})
    return rows
