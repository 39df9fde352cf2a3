"""SIGINT and SIGTERM in each of the four working phases: stop, tear down, leave the evidence."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks
from tests.faults.conftest import (
    SIGNALS,
    LiveRun,
    add_slow_migration,
    add_slow_test,
    assert_clean_failure,
    start_run,
)

pytestmark = pytest.mark.usefixtures("engine_available")


def _prepare(phase: str, project_dir: Path, tmp_path: Path) -> dict[str, str]:
    if phase == "migrate":
        add_slow_migration(project_dir)
    if phase == "test":
        return add_slow_test(project_dir, tmp_path / "marker")
    return {}


def _hit_phase(run, phase: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run.wait_for(rf"==> {phase}")
    if phase == "test":
        deadline = time.monotonic() + 60
        while not (tmp_path / "marker").exists():  # the slow test is running
            assert time.monotonic() < deadline, "".join(run.stderr)
            time.sleep(0.05)
    else:
        time.sleep({"up": 0.3, "ready": 0.2, "migrate": 0.8}[phase])


@pytest.mark.parametrize("signame", sorted(SIGNALS))
@pytest.mark.parametrize("phase", ["up", "ready", "migrate", "test"])
def test_signal_in_phase_tears_down_and_exits_128_plus_n(
    phase: str, signame: str, example_project: Path, tmp_path: Path
) -> None:
    signum, expected = SIGNALS[signame]
    env = _prepare(phase, example_project, tmp_path)
    run = start_run(example_project, env=env)
    _hit_phase(run, phase, tmp_path)
    started = time.monotonic()
    run.signal(signum)
    code, data, output = run.finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=expected,
        status="interrupted",
        message=f"interrupted by {signame}",
        project=run.project,
    )
    phases = {p["name"]: p["status"] for p in data["phases"]}
    assert phases[phase] == "interrupted", data["phases"]
    assert phases["down"] == "ok"
    assert time.monotonic() - started < 40  # stopped promptly, not after the 60 s sleep
    if phase == "test":
        # pytest got the signal first and wrote its report before the stack went away.
        assert (Path(data["artifacts_dir"]) / "junit.xml").exists()


def test_second_signal_during_teardown_forces_a_fast_complete_teardown(
    example_project: Path, tmp_path: Path
) -> None:
    # PID 1 without a TERM handler ignores SIGTERM: a graceful `down` waits its full stop period for it.
    compose = example_project / "docker-compose.test.yml"
    compose.write_text(
        compose.read_text().replace(
            "\nvolumes:\n",
            '\n  stubborn:\n    image: redis:7\n    entrypoint: ["sleep", "infinity"]\n\nvolumes:\n',
        )
    )
    env = add_slow_test(example_project, tmp_path / "marker")
    run = start_run(example_project, env=env)
    run.wait_for(r"==> test")
    while not (tmp_path / "marker").exists():
        time.sleep(0.05)
    run.signal(signal.SIGINT)
    run.wait_for(r"==> down")
    run.signal(signal.SIGINT)  # impatient user: must not abort the teardown
    code, data, output = run.finish()
    assert code == 130, output
    down = next(p for p in data["phases"] if p["name"] == "down")
    assert down["status"] == "ok" and down["seconds"] < 2.5, down  # forced: no stop period
    assert_no_leaks(run.project)


def test_sigkilled_run_is_swept_by_prune_and_a_live_run_is_not(example_project: Path, tmp_path: Path) -> None:
    from tests.conftest import run_cli

    victim = _killed_mid_test(example_project, tmp_path)
    # The stack is still there, orphaned.
    from tests.conftest import leaked_resources

    assert leaked_resources(victim.project)["containers"]
    pruned = run_cli(["stack", "prune", "--json"], example_project)
    assert pruned.returncode == 0, pruned.output
    decisions = {d["project"]: d for d in pruned.json()["stacks"]}
    assert decisions[victim.project]["stale"] is True
    assert f"owner process {victim.proc.pid} is gone" in decisions[victim.project]["reason"]
    assert_no_leaks(victim.project)


def test_next_run_sweeps_a_killed_runs_stack(example_project: Path, tmp_path: Path) -> None:
    victim = _killed_mid_test(example_project, tmp_path)
    (example_project / "example" / "tests" / "test_zz_slow.py").unlink()
    nxt = start_run(example_project)
    code, _data, output = nxt.finish()
    assert code == 0, output
    assert f"removed stale stack {victim.project}" in output
    assert_no_leaks(victim.project)
    assert_no_leaks(nxt.project)


def _killed_mid_test(project_dir: Path, tmp_path: Path) -> LiveRun:
    """A run SIGKILLed while its tests run, as when the runner machine dies: no teardown ran."""
    victim = start_run(project_dir, env=add_slow_test(project_dir, tmp_path / "marker"))
    victim.wait_for(r"==> test")
    while not (tmp_path / "marker").exists():
        time.sleep(0.05)
    children = _children(victim.proc.pid)
    os.kill(victim.proc.pid, signal.SIGKILL)
    for pid in children:  # the machine took pytest down with it
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    victim.proc.wait()
    return victim


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(c) for c in text]
    return found


def test_sigterm_during_tier3_test_stops_pytest_and_exits_143(example_project: Path, tmp_path: Path) -> None:
    """`ci-toolkit test` on a kept stack: the signal reaches pytest, which stops; the stack stays."""
    import subprocess
    import sys

    from tests.conftest import run_cli

    env = add_slow_test(example_project, tmp_path / "marker")
    project = "t3sig-" + os.urandom(4).hex()
    up = run_cli(["stack", "up", "--project", project], example_project)
    try:
        assert up.returncode == 0, up.output
        proc = subprocess.Popen(
            [sys.executable, "-m", "ci_toolkit", "test", "--", "-k", "slow"],
            cwd=example_project,
            env={**os.environ, **env, "CI": "true"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not (tmp_path / "marker").exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        children = _children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 143, out
        assert "interrupted by SIGTERM" in out
        for pid in children:  # pytest got the signal and is gone, not left behind
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    finally:
        run_cli(["stack", "down", "--project", project], example_project)
    assert_no_leaks(project)
