"""Three runs at once on one compose file, and a prune in the middle of them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli
from tests.faults.conftest import add_slow_test, start_run

pytestmark = pytest.mark.usefixtures("engine_available")

HOLD_TEST = """
import os, pathlib, time

def test_hold():
    pathlib.Path(os.environ["FAULT_MARKER"] + os.environ["CI_TOOLKIT_PROJECT"]).write_text("up")
    time.sleep(3)
"""


def test_three_concurrent_runs_pass_and_prune_touches_none(example_project: Path, tmp_path: Path) -> None:
    add_slow_test(example_project, tmp_path / "unused")
    (example_project / "example" / "tests" / "test_zz_slow.py").write_text(HOLD_TEST)
    marker = str(tmp_path / "marker-")
    runs = [start_run(example_project, env={"FAULT_MARKER": marker}) for _ in range(3)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("marker-*"))) < 3:  # all three stacks up and testing
        assert time.monotonic() < deadline, [r.stderr for r in runs]
        time.sleep(0.1)
    pruned = run_cli(["stack", "prune", "--json"], example_project)
    assert pruned.returncode == 0, pruned.output
    decisions = {d["project"]: d for d in pruned.json()["stacks"]}
    for run in runs:
        assert decisions[run.project]["stale"] is False
        assert "is running" in decisions[run.project]["reason"]
    results = [run.finish() for run in runs]
    ports = set()
    for run, (code, data, output) in zip(runs, results, strict=True):
        assert code == 0, output
        assert data["tests"]["failed"] == 0 and data["tests"]["passed"] >= 4
        assert "removed stale stack" not in output
        ports.add(data["services"]["postgres"]["ports"]["5432"])
        assert_no_leaks(run.project)
    assert len(ports) == 3  # each run got its own host ports
