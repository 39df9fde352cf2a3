"""Issue 15's acceptance over real runs: soak iterations of the bundled example, recorded by
`integration-run`'s own `[history]` step, plus generated records, then the queries a user runs.

The example's `test_flaky_on_request` (EXAMPLE_FLAKY=1) fails on odd soak iterations and passes
on even ones, all on one commit (the project is a real git repository): it, and only it, is
flaky. Nothing here is mocked."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ci_toolkit.history.model import RunRecord, TestResult
from ci_toolkit.history.queries import percentile
from ci_toolkit.history.store import open_store
from tests.conftest import run_cli

FLAKY = "example/tests/test_orders.py::test_flaky_on_request"
REAL_RUNS = 4


def git(cwd: Path, *args: str) -> str:
    who = {"NAME": "t", "EMAIL": "t@example.com"}
    env = {
        "PATH": "/usr/bin:/bin",
        **{f"GIT_{r}_{k}": v for r in ("AUTHOR", "COMMITTER") for k, v in who.items()},
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def generated(i: int, commit: str) -> RunRecord:
    """A steady run of the same suite: every test of the example passes (the flaky one too)."""
    tests = (
        TestResult(FLAKY, "passed", 0.01),
        TestResult("example/tests/test_orders.py::test_steady", "passed", 0.2),
    )
    return RunRecord(
        run_id=f"20260101T{i:06d}.000Z-generated-{i}",  # older than the real runs: they sort first
        finished_at=1_767_225_600 + i,
        status="passed",
        exit_code=0,
        counts={"passed": 2, "failed": 0, "errors": 0, "skipped": 0},
        coverage_percent=90.0 + i % 3,
        phases={"validate": 0.2, "up": 1.0 + i / 10, "ready": 2.0, "test": 3.0 + i / 100},
        tests=tests,
        commit=commit,
        branch="main",
    )


def test_thirty_recorded_runs_name_exactly_the_flaky_test(example_project: Path) -> None:
    config = example_project / "ci-toolkit.toml"
    config.write_text(config.read_text() + '\n[history]\nstore = "ci-history"\n')
    git(example_project, "init", "-q", "-b", "main")
    git(example_project, "add", "-A")
    git(example_project, "commit", "-q", "-m", "example")
    commit = git(example_project, "rev-parse", "HEAD").strip()

    soak = run_cli(
        ["soak", "--iterations", str(REAL_RUNS), "--reuse-stack", "--keep-going"],
        example_project,
        env={"EXAMPLE_FLAKY": "1"},
    )
    assert soak.returncode == 1, soak.output  # iterations 1 and 3 failed on purpose

    store = open_store("ci-history", example_project)
    real = list(store.runs())
    assert len(real) == REAL_RUNS
    assert {r.commit for r in real} == {commit} and {r.branch for r in real} == {"main"}
    assert [r.status for r in real] == ["tests_failed", "passed", "tests_failed", "passed"]
    for i in range(30 - REAL_RUNS):
        store.put(generated(i, commit), {})

    flaky = run_cli(["history", "flaky", "--json"], example_project)
    assert flaky.returncode == 0, flaky.output
    report = json.loads(flaky.stdout)
    assert report["runs"] == 30
    assert [f["id"] for f in report["flaky"]] == [FLAKY]
    (only,) = report["flaky"]
    assert (only["failed"], only["passed"]) == (2, 28)
    assert only["last_seen"] == real[2].run_id and only["last_commit"] == commit

    trend = run_cli(["history", "trend", "--json"], example_project)
    assert trend.returncode == 0, trend.output
    figures = json.loads(trend.stdout)
    records = [*(generated(i, commit) for i in range(30 - REAL_RUNS)), *real]
    for phase in ("up", "ready", "test"):
        seconds = [r.phases[phase] for r in records if phase in r.phases]  # --reuse-stack: tests only
        assert figures["phase_p50"][phase] == round(percentile(seconds, 50), 3)
        assert figures["phase_p95"][phase] == round(percentile(seconds, 95), 3)
    assert figures["runs"] == 30 and figures["runs_passed"] == 28
    assert [p["run_id"] for p in figures["points"]][-REAL_RUNS:] == [r.run_id for r in real]

    # Human output names the store and the test; --last narrows the window to the real runs.
    text = run_cli(["history", "flaky", "--last", str(REAL_RUNS)], example_project)
    assert f"flaky tests over {REAL_RUNS} runs in ci-history" in text.stdout
    assert FLAKY in text.stdout and "failed and passed on the same commit" in text.stdout


def test_a_run_in_github_actions_ends_its_job_summary_with_the_trend_chart(
    example_project: Path, tmp_path: Path
) -> None:
    config = example_project / "ci-toolkit.toml"
    config.write_text(config.read_text() + '\n[history]\nstore = "ci-history"\n')
    summary = tmp_path / "summary.md"
    for _ in range(2):
        run = run_cli(
            ["integration-run", "--github", "--", "-m", "not slow"],
            example_project,
            env={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_SHA": "f" * 40, "GITHUB_REF_NAME": "main"},
        )
        assert run.returncode == 0, run.output
    text = summary.read_text()
    assert text.count("xychart-beta") >= 2  # phase times, and pass rate + coverage: each run's section
    run_json = json.loads(
        max(
            (example_project / "ci-artifacts").glob("*/run.json"), key=lambda p: p.stat().st_mtime
        ).read_text()
    )
    assert run_json["history"]["store"] == "ci-history" and run_json["history"]["run_id"]
    assert [r.commit for r in open_store("ci-history", example_project).runs()] == ["f" * 40] * 2


def test_a_store_that_cannot_be_written_leaves_the_run_result_alone(example_project: Path) -> None:
    config = example_project / "ci-toolkit.toml"
    (example_project / "not-a-dir").write_text("a file where the store should be\n")
    config.write_text(config.read_text() + '\n[history]\nstore = "not-a-dir"\n')
    run = run_cli(["integration-run", "--", "-m", "not slow"], example_project)
    assert run.returncode == 0, run.output
    assert "history: this run was not recorded in not-a-dir" in run.output
    assert "record it later with: ci-toolkit history record " in run.output


def test_a_store_that_raises_an_unforeseen_error_leaves_the_run_result_alone(example_project: Path) -> None:
    # An S3 endpoint without its scheme: botocore's ValueError used to escape the run (exit 70).
    config = example_project / "ci-toolkit.toml"
    config.write_text(config.read_text() + '\n[history]\nstore = "s3://ci-history/example"\n')
    # No credentials: the example's optional SSM secret is then skipped, as on a laptop.
    env = {"AWS_ENDPOINT_URL": "minio:9000"}
    run = run_cli(["integration-run", "--json", "--", "-m", "not slow"], example_project, env=env)
    assert run.returncode == 0, run.output
    assert "history: this run was not recorded in s3://ci-history/example" in run.stderr
    assert "S3 endpoint AWS_ENDPOINT_URL=minio:9000 is not a valid endpoint URL" in run.stderr
    result = run.json()
    assert result["status"] == "passed" and "minio:9000" in result["history"]["error"]
    assert result["history"]["run_id"]  # the id it will have when recorded later
