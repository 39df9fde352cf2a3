"""RESULTS.md's section on shards (issue 13): ci-toolkit's split against pytest-split's on one
ledger, its finding and its method."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.tables import Row, s, table
from benchmarks.targets import TARGETS

BALANCE_KEY = "shards.balance_ours"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}x"


def _rows(plans: Mapping[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for p in plans.values():
        rows.append(
            [
                p["label"],
                *(f"{sh['seconds']:.2f} ({sh['tests']})" for sh in p["shards"]),
                s(p["slowest_seconds"]),
                s(p["mean_seconds"]),
                f"**{_ratio(p['balance'])}**",
                _ratio(p["planned_balance"]),
                _ratio(p["wall_balance"]),
                str(p["fixture_setups"]),
                "yes" if p["union_ok"] else f"**no** ({p['duplicates']} twice, {p['missing']} missing)",
            ]
        )
    return rows


def section(r: Mapping[str, Any]) -> list[str]:
    sh = r.get("shards", {})
    plans = sh.get("plans", {})
    if not plans:
        return []
    count = len(next(iter(plans.values()))["shards"])
    fixture = sh["fixture"]
    recorded = ", ".join(f"{v:.2f}" for v in fixture["recorded_setup_seconds"])
    counted = ", ".join(f"{v:.4f}" for v in fixture["counted_seconds"])
    header = ["plan", *(f"shard {k}" for k in range(1, count + 1)), "slowest", "mean", "slowest / mean"]
    header += ["planned", "wall", "fixture setups", "union = collection"]
    return [
        f"## 8. Shards: {count} shards from a recorded ledger, against pytest-split\n",
        f"A generated suite (benchmarks/shards_suite.py, seed {sh['spec']['seed']}): {sh['tests']} tests, "
        f"{s(sh['total_seconds'])} s of tests unsharded ({s(sh['unsharded_wall_seconds'])} s wall), most "
        "of a few ms, a long tail of 0.2-1.5 s crowded into the first modules, and "
        f"{fixture['modules']} modules sharing a {fixture['setup_seconds']:.2f} s module-scoped fixture. "
        "The ledger comes from that one unsharded run; each plan's shards then run for real, one pytest "
        "process each. Per shard: seconds of its tests (setup + call + teardown as measured in that "
        f"process) and (its test count). pytest-split {sh.get('pytest_split_version', '?')} reads the "
        "same per-test costs from its `.test_durations`.\n",
        table(header, _rows(plans)),
        "*slowest / mean* is the balance of the measured seconds; *planned* the same from the ledger's "
        "costs of each shard's tests (what the planner believed); *wall* from each pytest process's wall "
        "time (start-up and collection included); *fixture setups* how many times the slow module "
        "fixtures were set up over all shards.\n",
        f"The ledger keeps setup apart: the first test of each fixture module recorded {recorded} s of "
        f"setup; its cost counts {counted} s of it (setup is capped at the suite's median), so the "
        "planner does not take that one test for a slow one.\n",
    ]


def findings(r: Mapping[str, Any]) -> list[str]:
    sh = r.get("shards", {})
    plans = sh.get("plans", {})
    if not {"ours", "pytest_split", "pytest_split_least_duration"} <= set(plans):
        return []
    ours, chunks, least = (plans[k] for k in ("ours", "pytest_split", "pytest_split_least_duration"))
    met = next((t["met"] for t in r["targets"] if t["key"] == BALANCE_KEY), None)
    threshold = next(float(t[3]) for t in TARGETS if t[0] == BALANCE_KEY)
    state = {True: "met", False: "not met", None: "not measured"}[met]
    text = [
        f"**Shards** ({state}): ci-toolkit's",
        f"slowest shard is {_ratio(ours['balance'])} the mean (target {threshold:g}x), pytest-split's",
        f"default algorithm {_ratio(chunks['balance'])}, its `least_duration` (longest first, as ours,",
        f"but blind to shared fixtures) {_ratio(least['balance'])}. The union of our shards is the",
        f"collection: {'yes' if ours['union_ok'] else 'NO'}. The slowest shard takes",
        f"{s(ours['slowest_seconds'])} s with ours, {s(chunks['slowest_seconds'])} s with pytest-split's",
        f"chunks, {s(least['slowest_seconds'])} s with `least_duration`. The slow module fixtures were",
        f"set up {ours['fixture_setups']} times with ours (a module whose shared setup the ledger knows",
        f"stays on one shard unless it alone outweighs a shard's share), {chunks['fixture_setups']} with",
        f"the chunks and {least['fixture_setups']} with `least_duration`",
        f"({s(sum(x['seconds'] for x in ours['shards']))} s of work in all with ours,",
        f"{s(sum(x['seconds'] for x in least['shards']))} s with `least_duration`).",
    ]
    return [" ".join(text)]


METHOD = [
    "Shards: the suite runs once per benchmark run, whatever `--reps` says (the generated suite is "
    "the same every time and every figure is a ratio within that one run). The ledger is "
    "`Ledger().updated(read_phases(...), collected)` over the unsharded run's phase record "
    "(`-p ci_toolkit.pytest_shard`, CI_TOOLKIT_PHASES), as ci-toolkit updates it after a run. Our "
    "shards select themselves in the pytest plugin (CI_TOOLKIT_SHARD=K/N over CI_TOOLKIT_SHARD_COSTS, "
    "checked against `partition` over the same costs and against each shard's report of the "
    "collection); pytest-split's with `--splits N --group K`, its own code. The 12 shard processes "
    "run one after another, the plans interleaved shard by shard. A shard's seconds are its tests' "
    "measured phases, not its wall time: a process's start and collection (about the same 0.3-0.5 s in every "
    "shard) is no planner's to move and would only dilute the imbalance; the wall-time balance is "
    "shown beside it.",
]
