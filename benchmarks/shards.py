"""The `shards` suite (issue 13): how evenly ci-toolkit splits a suite into 4 shards, side by side
with pytest-split (PyPI) fed the same ledger.

1. The generated suite (shards_suite.py) runs once, unsharded, with ci-toolkit's pytest plugin
   recording every phase; the durations ledger is made from that, as ci-toolkit does after a run.
2. Three plans over the ledger's per-test costs: ours (`partition`, which the plugin applies in
   each shard process from CI_TOOLKIT_SHARD_COSTS), pytest-split's default algorithm and its
   `least_duration`, both from a `.test_durations` file holding the same costs.
3. Every shard of every plan runs for real (12 pytest processes, one after another, the plans
   interleaved shard by shard so drift on the machine hits them alike); the selection is the
   planner's own code in each process (our plugin; pytest-split's `--splits 4 --group K`).

A shard's seconds are the sum of its tests' measured setup + call + teardown (our plugin's phase
record in that process), not its wall time: a pytest process's start and collection (the same
~0.5 s in every shard, whatever the plan) is no planner's to move, and would only dilute the
imbalance. Fixture setup a shard pays is in its sum: a module split over 4 shards sets its
module fixture up 4 times. Wall times are recorded too.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks import shards_suite
from benchmarks.shards_suite import Spec
from benchmarks.stack import Context, env
from ci_toolkit.pytest_shard import digest, estimate, partition
from ci_toolkit.shard.ledger import Ledger, read_collected, read_phases, save
from ci_toolkit.shard.plan import balance as shard_balance

SHARDS = 4
PLANS = {
    "ours": "ci-toolkit: `partition` (longest first) over the ledger's costs",
    "pytest_split": "pytest-split, default algorithm (duration_based_chunks)",
    "pytest_split_least_duration": "pytest-split, `--splitting-algorithm least_duration`",
}
TIMEOUT = 300.0


@dataclass(frozen=True)
class Process:
    """One pytest process: its wall time, the tests it ran and their measured seconds."""

    wall: float
    seconds: dict[str, float]  # test id -> setup + call + teardown
    report: dict[str, Any] | None = None  # ours: what CI_TOOLKIT_SHARD_REPORT said


def run(ctx: Context, rep: int) -> dict[str, Any]:
    """run.py's entry: the whole suite once, in the run's scratch dir."""
    return measure(ctx.scratch / f"shards-{rep}", Spec())


def measure(work: Path, spec: Spec, shards: int = SHARDS) -> dict[str, Any]:
    started = time.perf_counter()
    suite = work / "suite"
    shards_suite.write(suite, spec)
    collected_file = work / "collected.txt"
    whole = pytest(suite, work / "unsharded", {"CI_TOOLKIT_COLLECTED": str(collected_file)}, [])
    collected = read_collected(collected_file)
    ledger = Ledger().updated(read_phases(work / "unsharded.phases.tsv"), collected)
    save(ledger, work / "durations.json")
    costs = ledger.costs()
    costs_file, split_file = work / "costs.json", work / ".test_durations"
    costs_file.write_text(
        json.dumps(ledger.plan_input(), indent=1, sort_keys=True)
    )  # what ci-toolkit hands over
    split_file.write_text(json.dumps(costs, indent=1, sort_keys=True))  # the same seconds per test

    runs: dict[str, list[Process]] = {plan: [] for plan in PLANS}
    for k in range(1, shards + 1):
        order = list(PLANS)[k % len(PLANS) :] + list(PLANS)[: k % len(PLANS)]
        for plan in order:
            tag = work / f"{plan}-{k}"
            if plan == "ours":
                extra = {
                    "CI_TOOLKIT_SHARD": f"{k}/{shards}",
                    "CI_TOOLKIT_SHARD_COSTS": str(costs_file),
                    "CI_TOOLKIT_SHARD_REPORT": f"{tag}.report.json",
                }
                runs[plan].append(pytest(suite, tag, extra, []))
            else:
                # `--opt=value`: pytest takes a bare argument that names an existing path into
                # its rootdir guess (the durations file's dir would become the rootdir)
                args = [f"--splits={shards}", f"--group={k}", f"--durations-path={split_file}"]
                if plan == "pytest_split_least_duration":
                    args.append("--splitting-algorithm=least_duration")
                runs[plan].append(pytest(suite, tag, {}, args))

    plans = {plan: plan_figures(PLANS[plan], runs[plan], collected, ledger, spec) for plan in PLANS}
    problems = check_ours(runs["ours"], collected, ledger, shards)
    problems += [f"{p}: the shards' union is not the collection" for p in plans if not plans[p]["union_ok"]]
    ours, split = plans["ours"]["balance"], plans["pytest_split"]["balance"]
    return {
        "ok": not problems,
        "problems": problems,
        "seconds": time.perf_counter() - started,
        "tests": len(collected),
        "total_seconds": sum(whole.seconds.values()),
        "unsharded_wall_seconds": whole.wall,
        "shards": shards,
        "balance_ours": ours,
        "balance_pytest_split": split,
        "balance_pytest_split_least_duration": plans["pytest_split_least_duration"]["balance"],
        "balance_vs_pytest_split": ours / split,
        "union_equals_collection": plans["ours"]["union_ok"],
        "fixture": fixture_figures(ledger, costs, spec),
        "plans": plans,
        "spec": {"seed": spec.seed, "scale": spec.scale, "fixture_seconds": spec.fixture_seconds},
        "pytest_split_version": version("pytest-split"),
    }


def pytest(suite: Path, tag: Path, extra: Mapping[str, str], args: Sequence[str]) -> Process:
    """One pytest process over the suite, with our plugin recording its phases (it selects
    nothing without CI_TOOLKIT_SHARD, so under pytest-split it only measures)."""
    phases = Path(f"{tag}.phases.tsv")
    child = {k: v for k, v in env().items() if not k.startswith(("CI_TOOLKIT_", "PYTEST_"))}
    child.update({"CI_TOOLKIT_PHASES": str(phases), **extra})  # ^ nothing of an outer run leaks in
    cmd = [sys.executable, "-m", "pytest", "-p", "ci_toolkit.pytest_shard", "-p", "no:cacheprovider"]
    cmd += ["-q", *args]
    started = time.perf_counter()
    done = subprocess.run(
        cmd,
        cwd=suite,
        env=child,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr}")
    timings = read_phases(phases)
    seconds = {k: t.setup + t.call + t.teardown for k, t in timings.items()}
    report_file = extra.get("CI_TOOLKIT_SHARD_REPORT")
    report = json.loads(Path(report_file).read_text()) if report_file else None
    return Process(wall, seconds, report)


def plan_figures(
    label: str, runs: Sequence[Process], collected: Sequence[str], ledger: Ledger, spec: Spec
) -> dict[str, Any]:
    """`planned`: what the ledger says each shard takes (its tests' costs, plus each module's
    shared setup once per shard it is on), the same figure for every plan."""
    seconds = [sum(r.seconds.values()) for r in runs]
    costs, setup = ledger.costs(), ledger.shared_setup()
    planned = [estimate(list(r.seconds), costs, setup) for r in runs]
    walls = [r.wall for r in runs]
    seen = Counter(i for r in runs for i in r.seconds)
    duplicates = sorted(i for i, n in seen.items() if n > 1)
    fixture_files = set(spec.fixture_files())
    return {
        "label": label,
        "shards": [
            {
                "shard": f"{k}/{len(runs)}",
                "tests": len(r.seconds),
                "seconds": seconds[k - 1],
                "planned_seconds": planned[k - 1],
                "wall_seconds": r.wall,
            }
            for k, r in enumerate(runs, 1)
        ],
        "mean_seconds": statistics.fmean(seconds),
        "slowest_seconds": max(seconds),
        "balance": balance(seconds),
        "planned_balance": balance(planned),
        "wall_balance": balance(walls),
        # how often the slow module fixtures were set up, summed over the shards
        "fixture_setups": sum(len({i.split("::")[0] for i in r.seconds} & fixture_files) for r in runs),
        "duplicates": len(duplicates),
        "missing": len(set(collected) - set(seen)),
        "union_ok": not duplicates and set(seen) == set(collected) and len(seen) == len(collected),
    }


def check_ours(runs: Sequence[Process], collected: Sequence[str], ledger: Ledger, n: int) -> list[str]:
    """Every shard saw the same collection as the unsharded run, and ran exactly what `partition`
    plans for it (the plugin is the planner, not a second copy of it)."""
    problems = []
    expected = partition(collected, ledger.costs(), n, ledger.shared_setup())
    for k, r in enumerate(runs, 1):
        report = r.report or {}
        if report.get("collection") != digest(list(collected)) or report.get("tests") != len(collected):
            problems.append(f"ours {k}/{n}: its report {report} is not the unsharded collection's")
        if sorted(r.seconds) != sorted(expected[k - 1]) or report.get("selected") != len(r.seconds):
            problems.append(
                f"ours {k}/{n}: ran {len(r.seconds)} tests, `partition` planned {len(expected[k - 1])}"
            )
    return problems


def fixture_figures(ledger: Ledger, costs: Mapping[str, float], spec: Spec) -> dict[str, Any]:
    """What the ledger made of the slow module fixtures: the setup recorded on the test that paid
    it, and what of it that test's cost counts (setup is capped at the suite's median)."""
    first = [
        min(ids)
        for name in spec.fixture_files()
        if (ids := [i for i in ledger.tests if i.startswith(f"{name}::")])
    ]
    return {
        "modules": len(spec.fixture_modules),
        "setup_seconds": spec.fixture_seconds * spec.scale,
        "recorded_setup_seconds": [ledger.tests[i].setup for i in first],
        "counted_seconds": [costs[i] - ledger.tests[i].call for i in first],
    }


def balance(seconds: Sequence[float]) -> float:
    """ci-toolkit's own figure (`shard.plan.balance`, what `report merge` reports); NaN where it
    has none (no time measured), so the results stay numbers."""
    ratio = shard_balance(seconds)
    return float("nan") if ratio is None else ratio
