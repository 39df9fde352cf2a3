"""From samples to figures: min / median / max of each group of alternatives, the ratios between
them, and the per-phase breakdowns results.json carries."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any


def stats(values: Iterable[float]) -> dict[str, float] | None:
    data = sorted(values)
    if not data:
        return None
    return {"min": data[0], "median": statistics.median(data), "max": data[-1], "n": len(data)}


def med(values: Iterable[float]) -> float | None:
    data = list(values)
    return statistics.median(data) if data else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


Samples = Mapping[str, list[dict[str, Any]]]


def _ok(samples: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in samples if s.get("ok", True) and "seconds" in s]


def _breakdown(samples: list[dict[str, Any]], field: str) -> dict[str, Any]:
    names: dict[str, None] = {}
    for s in samples:
        names.update(dict.fromkeys(s.get(field, {})))
    return {n: stats(s[field][n] for s in samples if s[field].get(n) is not None) for n in names}


def _values(samples: list[dict[str, Any]], field: str) -> list[float]:
    return [s[field] for s in samples if isinstance(s.get(field), int | float)]


def summarize(samples: Samples, labels: Mapping[str, str]) -> dict[str, Any]:
    """Figures for one group of alternatives: stats of the valid samples, their parts, the failures."""
    summary = {}
    for key, all_samples in samples.items():
        good = _ok(all_samples)
        entry: dict[str, Any] = {
            "label": labels.get(key, key),
            "seconds": stats(s["seconds"] for s in good),
            "valid": len(good),
            "reps": len(all_samples),
            "problems": [s.get("problem", "") for s in all_samples if s not in good],
        }
        for field in ("parts", "phases", "services", "milestones", "segments"):
            if any(field in s for s in good):
                entry[field] = _breakdown(good, field)
        for field in (
            "down_seconds",
            "ready_from_up",
            "after_ready",
            "postgres_up",
            "lag",
            "wall",
            "gate_lag",
        ):
            if _values(good, field):
                entry[field] = stats(_values(good, field))
        entry["samples"] = all_samples
        summary[key] = entry
    return summary


def median_of(summary: Mapping[str, Any], key: str, field: str = "seconds") -> float | None:
    figures = summary.get(key, {}).get(field)
    return figures["median"] if figures else None


def paired(samples: Samples, a: str, b: str, op: str = "/") -> float | None:
    """Median over reps of a[i] / b[i] (or a[i] - b[i]): robust to drift between reps."""
    values = []
    for x, y in zip(samples.get(a, []), samples.get(b, []), strict=False):
        if x.get("ok", True) and y.get("ok", True) and "seconds" in x and "seconds" in y:
            values.append(x["seconds"] / y["seconds"] if op == "/" else x["seconds"] - y["seconds"])
    return med(values)


def readiness(samples: Samples, labels: Mapping[str, str]) -> dict[str, Any]:
    variants = summarize(samples, labels)
    citk = median_of(variants, "ci_toolkit")
    result: dict[str, Any] = {
        "ratio_vs_limit": ratio(citk, median_of(variants, "limit")),
        "ratio_vs_limit_paired": paired(samples, "ci_toolkit", "limit"),
        # The CLI without its interpreter start-up and exit: its pipeline steps, from its own split.
        "ratio_steps_vs_limit": ratio(
            med(
                s["seconds"] - s["parts"]["start-up"] - s["parts"]["exit"]
                for s in _ok(samples.get("ci_toolkit", []))
            ),
            median_of(variants, "limit"),
        ),
    }
    for key in ("wait_1s", "wait_5s", "wait_default", "pytest_docker"):
        if key in variants:
            result[f"speedup_vs_{key}"] = ratio(median_of(variants, key), citk)
            # What even the physical limit would score: no tool can beat this ratio in this run.
            result[f"ceiling_vs_{key}"] = ratio(median_of(variants, key), median_of(variants, "limit"))
    result["variants"] = variants
    return result


def overhead(samples: Samples, labels: Mapping[str, str]) -> dict[str, Any]:
    runs = summarize(samples, labels)
    return {
        "overhead_seconds": _diff(median_of(runs, "integration_run"), median_of(runs, "by_hand")),
        "overhead_paired_seconds": paired(samples, "integration_run", "by_hand", "-"),
        "runs": runs,
    }


def _diff(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def teardown(ready: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    variants = ready.get("variants", {})
    runs = over.get("runs", {})
    bare = variants.get("limit", {}).get("down_seconds")
    citk = variants.get("ci_toolkit", {}).get("down_seconds")
    run_down = runs.get("integration_run", {}).get("phases", {}).get("down")
    hand_down = runs.get("by_hand", {}).get("phases", {}).get("down")
    return {
        "stack_down": citk,
        "compose_down_v": bare,
        "ratio": ratio(citk and citk["median"], bare and bare["median"]),
        "integration_run_down_phase": run_down,
        "by_hand_down": hand_down,
    }


def concurrency(samples: Samples, labels: Mapping[str, str]) -> dict[str, Any]:
    runs = summarize(samples, labels)
    one, three = median_of(runs, "1"), median_of(runs, "3")
    return {
        "ratio_3_vs_1": ratio(three, one),
        "throughput_gain": ratio(3 * one, three) if one is not None else None,
        "runs": runs,
    }


def health_gated(samples: Samples, labels: Mapping[str, str]) -> dict[str, Any]:
    """Keys are `<interval>_<alternative>`; figures per interval (`interval_30s`, ...), and the
    headline: ci-toolkit's up -> ready over the limit with the 30 s interval (ratio of medians)."""
    summary = summarize(samples, labels)
    variants: dict[str, Any] = {}
    for interval in dict.fromkeys(key.split("_", 1)[0] for key in samples):
        keys = {key.split("_", 1)[1]: key for key in samples if key.startswith(f"{interval}_")}
        alts = {alt: summary[key] for alt, key in keys.items()}
        by_alt = {alt: samples[key] for alt, key in keys.items()}
        citk, limit = median_of(alts, "ci_toolkit"), median_of(alts, "limit")
        wait, wall = median_of(alts, "compose_wait"), median_of(alts, "ci_toolkit", "wall")
        variants[f"interval_{interval}"] = {
            "ratio_vs_limit": ratio(citk, limit),
            "ratio_vs_limit_paired": paired(by_alt, "ci_toolkit", "limit"),
            "ratio_wall_vs_limit": ratio(wall, limit),  # the whole process, start-up and exit included
            "speedup_vs_wait": ratio(wait, citk),
            "speedup_vs_wait_wall": ratio(wait, wall),
            "ceiling_vs_wait": ratio(wait, limit),  # what the physical limit itself would score
            "alternatives": alts,
        }
    return {
        "ratio_vs_limit": variants.get("interval_30s", {}).get("ratio_vs_limit"),
        "speedup_vs_wait": {key: v["speedup_vs_wait"] for key, v in variants.items()},
        "variants": variants,
    }
