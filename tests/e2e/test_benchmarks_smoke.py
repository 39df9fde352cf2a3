"""The benchmark smoke: `benchmarks/run.py --smoke` end to end against the real engine.

It writes into a tmp dir (never over the committed benchmarks/RESULTS.md), must produce the
figures the issue asks for, and must leave none of its `bench-<run id>-...` projects behind.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, assert_no_leaks, projects_with_prefix

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

RATIOS_AND_TIMES = (
    "readiness.ratio_vs_limit",
    "readiness.speedup_vs_wait_1s",
    "readiness.speedup_vs_wait_5s",
    "help_seconds",
    "health_gated.ratio_vs_limit",
    "health_gated.speedup_vs_wait.interval_5s",
)


def lookup(data: dict[str, Any], dotted: str) -> Any:
    value: Any = data
    for key in dotted.split("."):
        assert isinstance(value, dict) and key in value, f"results.json has no {dotted}"
        value = value[key]
    return value


def test_smoke_writes_the_figures_and_leaves_nothing_behind(engine_available: None, tmp_path: Path) -> None:
    committed = REPO / "benchmarks" / "RESULTS.md"
    before = committed.read_bytes() if committed.exists() else None
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--smoke", "--out", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=850,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, f"benchmark smoke failed:\n{proc.stderr[-6000:]}"

    results = json.loads((tmp_path / "results.json").read_text())
    for key in RATIOS_AND_TIMES:
        value = lookup(results, key)
        assert isinstance(value, int | float) and value > 0, f"{key} = {value!r}"
    # A difference of two single runs: its sign is noise-prone on a loaded machine (postgres' start
    # alone varies by more), so one rep only proves it was measured.
    overhead = lookup(results, "overhead_seconds")
    assert isinstance(overhead, int | float) and math.isfinite(overhead), overhead
    runs = lookup(results, "overhead.runs")
    assert runs["integration_run"]["seconds"]["median"] > 0 and runs["by_hand"]["seconds"]["median"] > 0
    assert results["run"]["smoke"] is True and results["run"]["reps"] == 1
    assert "wait_default" not in results["readiness"]["variants"], "--smoke skips the 30 s healthchecks"
    assert all(v["valid"] == v["reps"] == 1 for v in results["readiness"]["variants"].values())
    gated = results["health_gated"]["variants"]
    assert "compose_wait" not in gated["interval_30s"]["alternatives"], "--smoke skips the 30 s `up --wait`"
    assert set(gated["interval_5s"]["alternatives"]) == {"ci_toolkit", "limit", "compose_wait"}
    assert all(a["valid"] == a["reps"] == 1 for v in gated.values() for a in v["alternatives"].values())
    assert (tmp_path / "RESULTS.md").read_text().startswith("# ci-toolkit benchmarks")

    prefix = f"bench-{results['run']['id']}-"
    assert results["run"]["projects"], "the smoke created no compose project at all"
    assert all(name.startswith(prefix) for name in results["run"]["projects"])
    assert projects_with_prefix(prefix) == set()
    for project in results["run"]["projects"]:
        assert_no_leaks(project)
    assert results["run"]["projects_left_behind"] == []
    after = committed.read_bytes() if committed.exists() else None
    assert after == before, "the smoke overwrote the committed benchmarks/RESULTS.md"
