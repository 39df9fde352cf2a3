"""The sharded workflow (.github/workflows/sharded.yml) under act: plan -> 3 shard jobs -> merge.

Each shard job runs `integration-run --shard K/3` of the bundled example against the real engine;
the merge job merges their results. act has no artifact service here: the shards hand their run
dirs to the merge job through CI_TOOLKIT_ACT_HANDOFF (the workflow's act-only steps), where
GitHub uses actions/upload-artifact and download-artifact.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks
from tests.e2e.act_runner import ACT_BACKSTOP, act

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(ACT_BACKSTOP + 60)]

WORKFLOW = ".github/workflows/sharded.yml"


def test_three_shards_and_a_merge_are_green_and_the_summary_lists_every_test(tmp_path: Path) -> None:
    handoff = tmp_path / "handoff"
    handoff.mkdir()
    only = "only=POSTGRES_IMAGE=postgres:17 suite=full"  # one of the example's [matrix] cells
    run = act(
        tmp_path, WORKFLOW, "shards=3", only, "extras=example", env=[f"CI_TOOLKIT_ACT_HANDOFF={handoff}"]
    )
    shards = sorted(handoff.glob("shard-*"))
    results = [json.loads((d / "run.json").read_text()) for d in shards if (d / "run.json").is_file()]
    try:
        assert run.returncode == 0, run.log()
        jobs = [r for r in run.records if "jobResult" in r]
        assert len(jobs) >= 5 and all(r["jobResult"] == "success" for r in jobs), (
            jobs
        )  # plan, 3 shards, merge
        assert [d.name for d in shards] == [f"shard-postgres-17-full-shard-{k}-of-3" for k in (1, 2, 3)]
        assert sorted(r["shard"]["index"] for r in results) == [1, 2, 3]
        (tests,) = {r["shard"]["tests"] for r in results}
        assert sum(r["shard"]["selected"] for r in results) == tests
        collected = (shards[0] / "collected.txt").read_text().split()
        assert len(collected) == tests
        summary = "".join(
            r["content"] for r in run.records if r.get("command") == "summary" and r.get("jobID") == "merge"
        )
        assert "balance" in summary, summary
        assert "postgres:17 / full" in summary, summary
        for test_id in collected:
            assert test_id in summary, (test_id, summary)
    finally:
        for result in results:
            assert_no_leaks(result["project"])
