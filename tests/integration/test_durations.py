"""The durations ledger across real runs: every run records it; a shard leaves it alone.

Real engine, real stack, real pytest. The merge of shards is in test_shard_merge.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_toolkit.shard import ledger
from tests.conftest import CliResult, assert_no_leaks, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]


def _run(project: Path, art: Path, *args: str) -> tuple[CliResult, dict]:  # type: ignore[type-arg]
    result = run_cli(["integration-run", "--json", "--artifacts-dir", str(art), *args], project)
    return result, result.json()


def test_runs_record_durations_and_a_shard_runs_its_share_without_touching_them(
    example_project: Path, tmp_path: Path
) -> None:
    art = tmp_path / "art"
    first, data = _run(example_project, art)
    assert first.returncode == 0, first.stdout + first.stderr
    path = art / ledger.FILE_NAME
    count = data["tests"]["passed"] + data["tests"]["skipped"]
    assert f"durations of {count} tests (phase timings) recorded in {path}" in first.stderr
    recorded = ledger.load(path)
    assert len(recorded.tests) == data["tests"]["passed"] + data["tests"]["skipped"]
    assert all(t.runs == 1 and t.call >= 0 for t in recorded.tests.values())

    before = path.read_bytes()
    shard, shard_data = _run(example_project, art, "--shard", "2/3")
    assert shard.returncode == 0, shard.stdout + shard.stderr
    info = shard_data["shard"]
    assert (info["index"], info["count"], info["tests"]) == (2, 3, len(recorded.tests))
    ran = shard_data["tests"]["passed"] + shard_data["tests"]["skipped"]
    assert info["selected"] == ran and 0 < ran < len(recorded.tests)
    assert f"shard 2/3: {ran} of {len(recorded.tests)} tests" in shard.stderr
    assert path.read_bytes() == before  # sibling shards must split from the same ledger
    in_run = ledger.load(Path(shard_data["artifacts_dir"]) / ledger.FILE_NAME)
    assert sorted(k for k, t in in_run.tests.items() if t.runs == 2) == sorted(
        {
            line.split("\t")[2]
            for line in (Path(shard_data["artifacts_dir"]) / ledger.PHASES_FILE).read_text().splitlines()
            if line
        }
    )  # every test the shard ran (some skip in setup: no call phase) saw its second run
    costs = json.loads((Path(shard_data["artifacts_dir"]) / "shard-costs.json").read_text())
    assert set(costs["tests"]) == set(recorded.tests) and isinstance(costs["setup"], dict)
    for run in (data, shard_data):
        assert_no_leaks(run["project"])
