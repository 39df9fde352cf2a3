"""The results document: every suite's figures, the machine, the targets and the problems in one
mapping, written as results.json (rounded) and RESULTS.md (markdown.py) side by side."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks import figures, install, machine, markdown, targets

Samples = Mapping[str, list[dict[str, Any]]]


def assemble(
    run: dict[str, Any], labels: Mapping[str, Mapping[str, str]], samples: Mapping[str, Samples]
) -> dict[str, Any]:
    """`labels` and `samples` are keyed by suite (readiness, overhead, startup, concurrency,
    health_gated, warm, snapshot, shards, install), then by alternative."""
    ready = figures.readiness(samples["readiness"], labels["readiness"])
    over = figures.overhead(samples["overhead"], labels["overhead"])
    start = figures.summarize(samples["startup"], labels["startup"])
    conc = figures.concurrency(samples["concurrency"], labels["concurrency"])
    gated = figures.health_gated(samples["health_gated"], labels["health_gated"])
    results: dict[str, Any] = {
        "run": run,
        "machine": machine.describe(),
        "readiness": ready,
        "overhead_seconds": over["overhead_seconds"],
        "overhead": over,
        "help_seconds": figures.median_of(start, "help"),
        "startup": start,
        "teardown": figures.teardown(ready, over),
        "concurrency": conc,
        "health_gated": gated,
        "warm": warm(samples.get("warm", {}), labels.get("warm", {})),
        "snapshot": snapshot(samples.get("snapshot", {}), labels.get("snapshot", {})),
        "shards": shards(samples.get("shards", {})),
        "install": install.summary(samples.get("install", {}), labels.get("install", {})),
        "history": history(samples.get("history", {})),
        "onboard": onboard(samples.get("onboard", {})),
    }
    results["targets"] = targets.check_targets(results)
    groups = [("readiness", ready["variants"]), ("overhead", over["runs"]), ("concurrency", conc["runs"])]
    groups += [(f"health_gated {key}", v["alternatives"]) for key, v in gated["variants"].items()]
    groups += [(suite, results[suite]["alternatives"]) for suite in ("warm", "snapshot", "install")]
    results["errors"] = [
        f"{group} {key}: {problem}"
        for group, summary in groups
        for key, entry in summary.items()
        for problem in entry["problems"]
    ]
    results["errors"] += [f"history: {p}" for p in results["history"].get("problems", [])]
    results["errors"] += [f"onboard: {p}" for p in results["onboard"].get("problems", [])]
    results["errors"] += [f"shards: {problem}" for problem in results["shards"].get("problems", [])]
    results["errors"] += [f"clean-up: {problem}" for problem in run.get("cleanup_problems", [])]
    return results


def warm(samples: Samples, labels: Mapping[str, str]) -> dict[str, Any]:
    """Spawn to first test (`seconds`) of warm runs on a lease against fresh runs (medians)."""
    alts = figures.summarize(samples, labels)
    hot, fresh = figures.median_of(alts, "warm"), figures.median_of(alts, "fresh")
    return {
        "first_test_seconds": hot,
        "fresh_first_test_seconds": fresh,
        "speedup_vs_fresh": figures.ratio(fresh, hot),
        "heavy_first_test_seconds": figures.median_of(alts, "warm_heavy"),
        "lease_first_test_seconds": figures.median_of(alts, "lease"),
        "database_mb": _database_mb(samples),
        "alternatives": alts,
    }


def snapshot(samples: Samples, labels: Mapping[str, str]) -> dict[str, Any]:
    """Spawn to first test of snapshot hits against fresh runs, heavy migrations (medians)."""
    alts = figures.summarize(samples, labels)
    hit, fresh = figures.median_of(alts, "hit"), figures.median_of(alts, "fresh")
    return {
        "speedup_vs_fresh": figures.ratio(fresh, hit),
        "speedup_vs_fresh_paired": figures.paired(samples, "fresh", "hit"),
        "hit_first_test_seconds": hit,
        "fresh_first_test_seconds": fresh,
        "miss_first_test_seconds": figures.median_of(alts, "miss"),
        "database_mb": _database_mb(samples),
        "alternatives": alts,
    }


def shards(samples: Samples) -> dict[str, Any]:
    """The shard suite runs once per benchmark run (benchmarks/shards.py): its one sample holds its
    figures; one that raised holds only its problem."""
    runs = samples.get("run", [])
    if not runs:
        return {}
    if "problem" in runs[-1]:
        return {"ok": False, "problems": [runs[-1]["problem"]]}
    return dict(runs[-1])


def history(samples: Samples) -> dict[str, Any]:
    """Badges/s and store writes/s: the median of each rep's figure."""
    runs = samples.get("run", [])
    problems = [r["problem"] for r in runs if "problem" in r]
    good = [r for r in runs if "problem" not in r]
    if not good:
        return {"problems": problems} if problems else {}
    keys = ("badges_per_second", "store_writes_per_second", "write_ms_p50", "write_ms_max")
    out: dict[str, Any] = {k: figures.med(r[k] for r in good) for k in keys}
    return {**out, "reps": len(good), **({"problems": problems} if problems else {})}


def onboard(samples: Samples) -> dict[str, Any]:
    """`init --batch`: the median of each rep's figures (worst repository, batch/serial ratio)."""
    runs = samples.get("run", [])
    problems = [r["problem"] for r in runs if "problem" in r]
    good = [r for r in runs if "problem" not in r]
    if not good:
        return {"problems": problems} if problems else {}
    keys = ("single_seconds", "batch_seconds", "worst_repo_seconds", "median_repo_seconds", "batch_vs_serial")
    out: dict[str, Any] = {k: figures.med(r[k] for r in good) for k in keys}
    fixed = {k: good[0][k] for k in ("repos", "concurrency", "reference_seconds_per_repo")}
    return {**out, **fixed, "reps": len(good), **({"problems": problems} if problems else {})}


def _database_mb(samples: Samples) -> dict[str, float | None]:
    """The size of the tests' database, as they measured it, per alternative (median, MB)."""
    return {
        key: figures.med(s["database_bytes"] / 1e6 for s in runs if s.get("database_bytes"))
        for key, runs in samples.items()
    }


def write(results: Mapping[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(rounded(results), indent=2) + "\n")
    (out_dir / "RESULTS.md").write_text(markdown.render(results))


def rounded(value: Any, digits: int = 3) -> Any:
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, Mapping):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    return value
