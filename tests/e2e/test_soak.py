"""`ci-toolkit soak` end to end on the real engine: 20 fresh stacks, a flaky test found, the reused
stack, an iteration timeout, and SIGTERM in the middle. Every project a soak creates is named
`<--project>-<n>` (or `-stack`), so the leak checks look at exactly those."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKSTOP, CliResult, assert_no_leaks, projects_with_prefix, run_cli, wait_until
from tests.faults.conftest import GATE, compose_add, patient_timeouts

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("engine_available")]

PHASES = ["validate", "up", "ready", "migrate", "snapshot", "reset", "test", "collect", "down"]
FLAKY = "example/tests/test_orders.py::test_flaky_on_request"


def soak(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[CliResult, dict[str, Any], str]:
    project = f"soak-{secrets.token_hex(4)}"
    result = run_cli(["soak", "--json", "--project", project, *args], cwd, env, timeout=1500)
    return result, result.json(), project


def metrics(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(report["metrics"]).read_text().splitlines()]


@pytest.mark.timeout(1500)
def test_twenty_fresh_iterations_pass_leave_nothing_and_report_percentiles(example_project: Path) -> None:
    result, report, project = soak(example_project, "--iterations", "20", "--heartbeat", "5")
    assert result.returncode == 0, result.output[-3000:]
    assert (report["iterations"], report["passed"], report["failed"], report["pass_rate"]) == (20, 20, 0, 1.0)
    assert report["stopped"] == "completed" and report["flaky_tests"] == []
    assert report["leaks"] == {
        "checked": 20,
        "iterations_with_leaks": [],
        "grew": False,
        "total": {"containers": 0, "networks": 0, "volumes": 0},
    }
    lines = metrics(report)
    assert len(lines) == 20 and [m["iteration"] for m in lines] == list(range(1, 21))
    for m in lines:
        assert m["status"] == "passed" and m["failed_tests"] == [] and m["tests"]["passed"] >= 6
        assert set(PHASES) <= set(m["phases"]) and m["timestamp"].endswith("Z")
        assert m["leaked"] == {"containers": [], "networks": [], "volumes": []}
        assert m["disk"]["total"] > 0
    assert len({m["project"] for m in lines}) == 20  # a fresh stack (project) per iteration
    for phase in PHASES:
        stats = report["phases"][phase]
        floor = 0 if phase in ("snapshot", "reset") else 1e-9  # skipped: --snapshot, --reuse not asked
        assert stats["count"] == 20 and floor <= stats["p50"] <= stats["p95"] <= stats["max"], (phase, stats)
    markdown = (Path(report["report_dir"]) / "soak-report.md").read_text()
    assert "**20/20 iterations passed (100.0%)**" in markdown
    assert "| phase | runs | p50 (s) | p95 (s) | max (s) |" in markdown
    assert all(f"| {phase} | 20 |" in markdown for phase in PHASES)
    assert "[soak] heartbeat" in result.stderr and "[soak] iteration 20/20: passed" in result.stderr
    assert "ETA" in result.stderr
    assert projects_with_prefix(project) == set()
    for m in lines:
        assert_no_leaks(m["project"])


def test_flaky_example_test_is_named_as_flaky(example_project: Path) -> None:
    result, report, project = soak(example_project, "--iterations", "4", env={"EXAMPLE_FLAKY": "1"})
    assert result.returncode == 1, result.output[-3000:]  # some iterations failed
    assert report["passed"] == 2 and report["failed"] == 2
    (flaky,) = report["flaky_tests"]
    assert flaky == {"id": FLAKY, "failed_in": [1, 3], "passed_in": [2, 4], "ran": 4}
    assert report["always_failing_tests"] == []
    markdown = (Path(report["report_dir"]) / "soak-report.md").read_text()
    assert f"| `{FLAKY}` | 2/4 (iterations 1, 3) | 2/4 |" in markdown
    assert projects_with_prefix(project) == set()


def test_reused_stack_migrates_once_and_repeats_the_tests(example_project: Path) -> None:
    result, report, project = soak(example_project, "--iterations", "3", "--reuse-stack", "--suite", "smoke")
    assert result.returncode == 0, result.output[-3000:]
    assert report["passed"] == 3 and report["mode"] == "one reused stack"
    assert report["phases"]["migrate"]["count"] == 1 and report["phases"]["test"]["count"] == 3
    assert report["final_leaks"] == {"containers": [], "networks": [], "volumes": []}
    assert [m["tests"]["passed"] for m in metrics(report)] == [4, 4, 4]  # the smoke suite, each time
    assert_no_leaks(f"{project}-stack")


def test_iteration_timeout_stops_and_tears_down_the_iteration(example_project: Path) -> None:
    """The iteration cannot finish by itself (`ready` waits for a container that never turns
    healthy, and longer than the iteration may take), so --iteration-timeout ends it in whatever
    phase it fires: almost always once the stack is up, as validate and up take a few seconds;
    then the stack is torn down without a stop period. Either way nothing is left."""
    patient_timeouts(example_project)
    compose_add(example_project, GATE)
    result, report, project = soak(example_project, "--iterations", "1", "--iteration-timeout", "10")
    assert result.returncode == 1, result.output[-3000:]
    (m,) = metrics(report)
    assert m["status"] == "timeout" and "--iteration-timeout" in m["message"]
    if "up" in m["phases"]:  # a stack existed: it was torn down, forced (no graceful stop period)
        assert "down" in m["phases"], m["phases"]
        bundle = Path(report["report_dir"]) / f"{project}-1"
        commands = json.loads((bundle / "commands.json").read_text())
        ours = [c for c in commands if f" -p {project}-1 " in c["cmd"] and " down " in c["cmd"]]
        downs = {c["cmd"].split(" down ", 1)[1]: c["returncode"] for c in ours}
        assert downs.pop("--volumes --remove-orphans --timeout 0", None) == 0, commands
        assert set(downs.values()) <= {None}, downs  # a graceful one, if begun, was cut short
    assert_no_leaks(f"{project}-1")


def test_sigterm_mid_soak_writes_the_report_and_cleans_up(example_project: Path, tmp_path: Path) -> None:
    project = f"soak-{secrets.token_hex(4)}"
    metrics_file = tmp_path / "metrics.jsonl"
    env = {**os.environ, "CI": "true"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ci_toolkit",
            "soak",
            "--json",
            "--project",
            project,
            "--iterations",
            "50",
            "--metrics",
            str(metrics_file),
        ],
        cwd=example_project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: metrics_file.exists() and metrics_file.read_text().count("\n") >= 1,
            what="the first iteration to finish",
            process=proc,
        )
        # Its stack is gone before its record is written: containers now are a later iteration's.
        wait_until(lambda: projects_with_prefix(project), what="the next iteration's stack", process=proc)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=BACKSTOP)
    finally:
        if proc.poll() is None:  # never leave a soak running after a failure above
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143, stderr[-3000:]
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["stopped"] == "interrupted by SIGTERM"
    assert report["iterations"] == len(metrics_file.read_text().splitlines()) >= 1
    assert (Path(report["report_dir"]) / "soak-report.md").is_file()
    assert projects_with_prefix(project) == set()
    for line in metrics_file.read_text().splitlines():
        assert_no_leaks(json.loads(line)["project"])
