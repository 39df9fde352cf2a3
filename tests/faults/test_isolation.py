"""Three runs at once on one compose file, and a prune in the middle of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli
from tests.faults.conftest import start_run

pytestmark = pytest.mark.usefixtures("engine_available")

# Each run's test says its stack is up, then holds it until the prune has looked at all three
# (ci-toolkit's own test timeout ends it if the release never comes).
HOLD_TEST = """
import os, pathlib, time

def test_hold():
    pathlib.Path(os.environ["FAULT_MARKER"] + os.environ["CI_TOOLKIT_PROJECT"]).write_text("up")
    while not pathlib.Path(os.environ["FAULT_RELEASE"]).exists():
        time.sleep(0.05)
"""


def test_three_concurrent_runs_pass_and_prune_touches_none(example_project: Path, tmp_path: Path) -> None:
    (example_project / "example" / "tests" / "test_zz_hold.py").write_text(HOLD_TEST)
    marker, release = str(tmp_path / "marker-"), tmp_path / "release"
    env = {"FAULT_MARKER": marker, "FAULT_RELEASE": str(release)}
    runs = [start_run(example_project, env=env) for _ in range(3)]
    try:
        for run in runs:  # all three stacks up and testing
            run.wait_until(Path(marker + run.project).exists, "the run's test to hold its stack")
        pruned = run_cli(["stack", "prune", "--json"], example_project)
    finally:
        release.write_text("go")
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
