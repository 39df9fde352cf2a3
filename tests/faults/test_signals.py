"""SIGINT and SIGTERM in each of the four working phases: stop, tear down, leave the evidence.

Each phase is held (see tests/faults/conftest.py) until the signal comes, so the signal lands in
it however slowly the machine gets there; the run must then stop well before the hold would end.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, service_containers, wait_until
from tests.faults.conftest import (
    GATE,
    HELD_BACK,
    PROMPT_SECONDS,
    SIGNALS,
    LiveRun,
    add_slow_migration,
    add_slow_test,
    assert_clean_failure,
    compose_add,
    patient_timeouts,
    start_run,
)

pytestmark = pytest.mark.usefixtures("engine_available")


def _prepare(phase: str, project_dir: Path, tmp_path: Path) -> dict[str, str]:
    """Hold `phase` until something stops it: compose `up` waits for a container that never turns
    healthy, `ready` waits for it too, the last migration and the last test sleep."""
    patient_timeouts(project_dir)
    if phase == "up":
        compose_add(project_dir, GATE, HELD_BACK)
    if phase == "ready":
        compose_add(project_dir, GATE)
    if phase == "migrate":
        add_slow_migration(project_dir)
    if phase == "test":
        return add_slow_test(project_dir, tmp_path / "marker")
    return {}


def _hit_phase(run: LiveRun, phase: str, tmp_path: Path) -> None:
    run.wait_for(rf"==> {phase}\b")
    if phase == "up":  # compose is creating the stack (and cannot finish: it waits for the gate)
        run.wait_until(lambda: service_containers(run.project, "gate"), "compose to create the gate")
    if phase == "test":
        run.wait_for_file(tmp_path / "marker")  # the slow test is running


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
    assert time.monotonic() - started < PROMPT_SECONDS  # stopped, not waited for the held phase
    if phase == "test":
        # pytest got the signal first and wrote its report before the stack went away.
        assert (Path(data["artifacts_dir"]) / "junit.xml").exists()


def test_second_signal_during_teardown_forces_a_fast_complete_teardown(
    example_project: Path, tmp_path: Path
) -> None:
    # PID 1 without a TERM handler ignores SIGTERM: a graceful `down` waits its full stop period for it.
    compose_add(example_project, '  stubborn:\n    image: redis:7\n    entrypoint: ["sleep", "infinity"]\n')
    env = add_slow_test(example_project, tmp_path / "marker")
    run = start_run(example_project, env=env)
    run.wait_for(r"==> test")
    run.wait_for_file(tmp_path / "marker")
    run.signal(signal.SIGINT)
    run.wait_for(r"==> down")
    run.signal(signal.SIGINT)  # impatient user: must not abort the teardown
    code, data, output = run.finish()
    assert code == 130, output
    down = next(p for p in data["phases"] if p["name"] == "down")
    assert down["status"] == "ok", down
    # Forced: whatever the machine's speed, the evidence is which `compose down` ran to the end.
    # The one with a stop period (if it had begun) was cancelled; the one without it did the work.
    commands = json.loads((Path(data["artifacts_dir"]) / "commands.json").read_text())
    ours = [c for c in commands if f" -p {run.project} " in c["cmd"] and " down " in c["cmd"]]
    downs = {c["cmd"].split(" down ", 1)[1]: c["returncode"] for c in ours}
    assert downs.pop("--volumes --remove-orphans --timeout 0", None) == 0, commands
    assert set(downs.values()) <= {None}, downs  # returncode None: killed before it finished
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
    victim.wait_for_file(tmp_path / "marker")
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
        try:
            wait_until((tmp_path / "marker").exists, what="the slow test to start", process=proc)
            children = _children(proc.pid)
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=PROMPT_SECONDS)  # the test itself would sleep on
        finally:
            if proc.poll() is None:  # never leave it running after a failure above
                proc.kill()
                proc.wait()
        assert proc.returncode == 143, out
        assert "interrupted by SIGTERM" in out
        for pid in children:  # pytest got the signal and is gone, not left behind
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    finally:
        run_cli(["stack", "down", "--project", project], example_project)
    assert_no_leaks(project)
