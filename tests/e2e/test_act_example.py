"""The tier-1 workflow (.github/workflows/example.yml), run for real with act.

`act -P ubuntu-latest=-self-hosted` runs the job's steps on this host: the local composite
actions ./actions/setup (a virtualenv with ci-toolkit from this checkout) and
./actions/integration-run (the whole run against the real Docker engine, then cleanup).
act copies the checkout into its own workspace, so the repository is not touched.

Remote actions cannot be fetched here (no GitHub). Each pinned one is mapped with
`--local-repository` to a stub that fails if it ever runs, and the steps using them carry
`if: ${{ !env.ACT }}`; a remote step without that guard fails these tests.

act's `--json` log is the evidence: step results, `set-output` records (the step outputs as
the workflow sees them) and `summary` records (what ci-toolkit wrote to $GITHUB_STEP_SUMMARY,
which act reads back after the step; the file itself lives in act's per-run directory).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, assert_no_leaks
from tests.e2e.act_runner import ACT_BACKSTOP, BIN, act

# A backstop for the reproduce run, not an estimate (the second test runs act, then this).
REPRO_BACKSTOP = 600
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(ACT_BACKSTOP + REPRO_BACKSTOP + 60)]

WORKFLOW = ".github/workflows/example.yml"
PHASES = ("validate", "up", "ready", "migrate", "snapshot", "reset", "test", "collect", "down")


def test_example_workflow_passes_with_summary_and_outputs(tmp_path: Path) -> None:
    # A pytest-args form field left with spaces is no argument: an empty one would make pytest
    # collect the whole rootdir (the reproduce command below shows nothing after the command).
    run = act(tmp_path, WORKFLOW, "pytest-args=  ")
    outputs = run.outputs("integration")
    try:
        assert run.returncode == 0 and run.job_result() == "success", run.log()
        assert outputs["status"] == "passed"
        assert outputs["exit-code"] == "0"
        assert int(outputs["tests-passed"]) >= 6
        assert outputs["tests-failed"] == "0"
        assert 0 < float(outputs["coverage"]) <= 100
        assert outputs["artifacts-dir"].endswith(outputs["project"])
        summary = run.summary()
        assert summary.startswith("## ✅ ci-toolkit integration-run: passed (exit code 0)"), summary
        assert "| phase | status | seconds |" in summary
        for phase in PHASES:
            status = "skipped" if phase in ("snapshot", "reset") else "ok"  # --snapshot, --reuse not asked
            assert re.search(rf"^\| {phase} \| {status} \| \d+\.\d\d \|$", summary, re.M), (phase, summary)
        assert re.search(r"^\| postgres \| \d+\.\d\d s \| 5432 → 127\.0\.0\.1:\d+ \|$", summary, re.M)
        assert f"Stack `{outputs['project']}`: torn down" in summary
        assert "```sh\nci-toolkit integration-run\n```" in summary
        results = run.step_results()
        assert results["Main ./actions/setup"] == "success"
        assert results["Main Remove the stack if it is still there"] == "success"
        # The run step's groups (the cleanup step's `stack down` opens its own `down` group).
        groups = [
            r["arg"]
            for r in run.records
            if r.get("command") == "group" and r.get("stepID") == ["integration", "run"]
        ]
        assert [g for g in groups if g in PHASES] == list(PHASES)
    finally:
        if outputs.get("project"):
            assert_no_leaks(outputs["project"])


def test_a_failing_test_fails_the_job_and_the_summary_reproduces_it(tmp_path: Path) -> None:
    run = act(tmp_path, WORKFLOW, "fail=true")
    outputs = run.outputs("integration")
    repro_project = f"citk-e2e-repro-{secrets.token_hex(4)}"
    try:
        assert run.returncode != 0 and run.job_result() == "failure", run.log()
        assert outputs["status"] == "tests_failed", run.log()
        assert outputs["exit-code"] == "1"
        assert outputs["tests-failed"] == "1"
        summary = run.summary()
        assert summary.startswith("## ❌ ci-toolkit integration-run: tests_failed (exit code 1)"), summary
        assert "### Failed tests" in summary
        assert (
            "- `example/tests/test_orders.py::test_fails_on_request` (example/tests/test_orders.py:"
            in summary
        )
        assert "EXAMPLE_FAIL is set: failing on purpose" in summary
        assert f"Stack `{outputs['project']}`: torn down" in summary
        annotations = [r for r in run.records if r.get("command") == "error"]
        assert any(a["kvPairs"].get("file") == "example/tests/test_orders.py" for a in annotations), (
            annotations
        )
        results = run.step_results()
        assert results["Main ci-toolkit integration-run"] == "failure"
        assert results["Main Remove the stack if it is still there"] == "success"
        assert_no_leaks(outputs["project"])

        # The summary's command, run here on the same checkout, fails the same way.
        command = re.search(r"^```sh\n(.+)\n```$", summary, re.M)
        assert command, summary
        assert command[1] == "EXAMPLE_FAIL=1 ci-toolkit integration-run"
        artifacts = shlex.quote(str(tmp_path / "repro"))
        extra = f"--json --no-github --project {repro_project} --artifacts-dir {artifacts}"
        local = command[1].replace("ci-toolkit integration-run", f"ci-toolkit integration-run {extra}", 1)
        env = {k: v for k, v in os.environ.items() if k != "EXAMPLE_FAIL" and not k.startswith("GITHUB_")}
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        proc = subprocess.run(
            ["bash", "-c", local], cwd=REPO, env=env, capture_output=True, text=True, timeout=REPRO_BACKSTOP
        )
        assert proc.returncode == 1, proc.stdout + proc.stderr
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result["status"] == "tests_failed"
        assert [f["id"] for f in result["failed_tests"]] == [
            "example/tests/test_orders.py::test_fails_on_request"
        ]
    finally:
        if outputs.get("project"):
            assert_no_leaks(outputs["project"])
        assert_no_leaks(repro_project)
