"""The results document: every suite's figures, the machine, the targets and the problems in one
mapping, written as results.json (rounded) and RESULTS.md (markdown.py) side by side."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks import figures, machine, markdown, targets

Samples = Mapping[str, list[dict[str, Any]]]


def assemble(
    run: dict[str, Any], labels: Mapping[str, Mapping[str, str]], samples: Mapping[str, Samples]
) -> dict[str, Any]:
    """`labels` and `samples` are keyed by suite (readiness, overhead, startup, concurrency,
    health_gated), then by alternative."""
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
    }
    results["targets"] = targets.check_targets(results)
    groups = [("readiness", ready["variants"]), ("overhead", over["runs"]), ("concurrency", conc["runs"])]
    groups += [(f"health_gated {key}", v["alternatives"]) for key, v in gated["variants"].items()]
    results["errors"] = [
        f"{group} {key}: {problem}"
        for group, summary in groups
        for key, entry in summary.items()
        for problem in entry["problems"]
    ]
    return results


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
