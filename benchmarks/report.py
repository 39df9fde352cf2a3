"""Statistics, targets, the machine description; writes results.json and (markdown.py) RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from benchmarks.stack import REPO

# (key in results, label, how it is compared, threshold)
TARGETS = (
    ("readiness.ratio_vs_limit", "readiness <= 1.10x the physical limit", "<=", 1.10),
    ("readiness.speedup_vs_wait_1s", ">= 1.55x faster than `up --wait`, 1 s healthchecks", ">=", 1.55),
    ("readiness.speedup_vs_wait_5s", ">= 3.7x faster than `up --wait`, 5 s healthchecks", ">=", 3.7),
    ("overhead_seconds", "integration-run overhead <= 0.5 s over by hand", "<=", 0.5),
    ("help_seconds", "`ci-toolkit --help` <= 0.25 s cold (median)", "<=", 0.25),
)
REFERENCE = {"limit": 1.60, "wait_default": 31.6, "wait_5s": 6.6, "wait_1s": 2.75, "down": 0.83}


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


# -- from samples to figures ----------------------------------------------------------------------

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
        for field in ("parts", "phases", "services"):
            if any(field in s for s in good):
                entry[field] = _breakdown(good, field)
        for field in ("down_seconds", "ready_from_up", "after_ready", "postgres_up", "lag"):
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


# -- the machine -------------------------------------------------------------------------------


def _out(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=REPO).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem_kb = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if "MemTotal" in line), 0
    )
    dirty = _out(["git", "status", "--porcelain", "--", "ci_toolkit"])
    images = {
        image: _out(["docker", "image", "inspect", image, "--format", "{{.Id}}"])[7:19]
        for image in ("postgres:15", "redis:7", "nats:2.10")
    }
    import ci_toolkit

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _os_name(),
        "docker_engine": _out(["docker", "version", "--format", "{{.Server.Version}}"]),
        "docker_cli": _out(["docker", "version", "--format", "{{.Client.Version}}"]),
        "compose": _out(["docker", "compose", "version", "--short"]),
        "python": platform.python_version(),
        "ci_toolkit": ci_toolkit.__version__,
        "git_commit": _out(["git", "rev-parse", "--short", "HEAD"]),
        "ci_toolkit_uncommitted_changes": bool(dirty),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "images": images,
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _os_name() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.platform()


# -- outputs -----------------------------------------------------------------------------------


def write(results: Mapping[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(rounded(results), indent=2) + "\n")
    from benchmarks.markdown import render

    (out_dir / "RESULTS.md").write_text(render(results))


def rounded(value: Any, digits: int = 3) -> Any:
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, Mapping):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, digits) for v in value]
    return value
