"""The Docker engine goes away mid-run (Docker Desktop update, `systemctl restart docker`, a
runner's daemon recycled). The run names the engine as the cause (not the services it took
down), waits for it in teardown and then removes everything; if it never comes back, the run
says so and prints the command that removes the stack later.

These tests stop and start the sandbox's real dockerd, so every container on the engine stops:
they are marked slow and run one at a time like the rest of the suite."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, assert_no_leaks, leaked_resources, run_cli
from tests.faults.conftest import LiveRun, add_slow_test, start_run

pytestmark = [pytest.mark.usefixtures("engine_available"), pytest.mark.slow]

DOCKER_UP = REPO.parent / "shared" / "sandbox" / "docker-up.sh"


def _dockerd_pid() -> int | None:
    found = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout.split()
    return int(found[0]) if found else None


def _engine_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def stop_engine() -> None:
    pid = _dockerd_pid()
    assert pid is not None
    os.kill(pid, signal.SIGTERM)  # what `systemctl stop docker` does
    deadline = time.monotonic() + 90
    while _dockerd_pid() == pid:
        assert time.monotonic() < deadline, "dockerd did not stop"
        time.sleep(0.2)


def start_engine() -> None:
    # dockerd lives in /usr/sbin, which a minimal CI PATH may leave out.
    path = f"{os.environ.get('PATH', '')}:/usr/local/sbin:/usr/sbin:/sbin"
    env = {**os.environ, "SANDBOX_IMAGES": "", "PATH": path}
    done = subprocess.run(["bash", str(DOCKER_UP)], capture_output=True, text=True, env=env)
    assert done.returncode == 0 and _engine_answers(), done.stdout + done.stderr


@pytest.fixture
def restartable_engine() -> Iterator[None]:
    if os.geteuid() != 0 or _dockerd_pid() is None or not DOCKER_UP.is_file():
        pytest.skip("needs the sandbox's own dockerd (root, ../shared/sandbox/docker-up.sh) to restart it")
    try:
        yield
    finally:
        if not _engine_answers():
            start_engine()


def _wait_for_the_slow_test(run: LiveRun, marker: Path) -> None:
    run.wait_for_file(marker)  # however long the stack takes to come up; fails if the run ends


def test_engine_restarted_during_tests_is_named_and_the_stack_removed_after(
    restartable_engine: None, example_project: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    run = start_run(example_project, env=add_slow_test(example_project, marker))
    _wait_for_the_slow_test(run, marker)
    stop_engine()
    start_engine()  # back at once, as after `systemctl restart docker`
    code, data, output = run.finish(timeout=240)

    assert code == 4, output
    assert data["status"] == "infra_error", data
    assert "lost the connection to the Docker engine" in data["message"], data["message"]
    assert "failed during the tests" not in data["message"]  # the services are not blamed
    down = next(p for p in data["phases"] if p["name"] == "down")
    assert down["status"] == "ok", data["phases"]
    assert_no_leaks(run.project)  # removed after the engine came back, no manual step


def test_engine_that_stays_down_gets_a_command_that_removes_the_stack_later(
    restartable_engine: None, example_project: Path, tmp_path: Path
) -> None:
    config = example_project / "ci-toolkit.toml"
    config.write_text(config.read_text().replace("down = 60", "down = 4"))  # give up waiting soon
    marker = tmp_path / "marker"
    run = start_run(example_project, env=add_slow_test(example_project, marker))
    _wait_for_the_slow_test(run, marker)
    stop_engine()
    try:
        code, data, output = run.finish(timeout=240)
    finally:
        start_engine()

    assert code == 4, output
    assert "did not come back within 4s" in data["message"], data["message"]
    assert f"ci-toolkit stack down --project {run.project}" in data["message"]
    command = re.search(r"remove it with:\n\s+(docker compose .+)", data["message"])
    assert command is not None, data["message"]
    assert leaked_resources(run.project)["volumes"], "the stack should still be there"
    removed = subprocess.run(
        command.group(1), shell=True, capture_output=True, text=True
    )  # as a user pastes it
    assert removed.returncode == 0, removed.stderr
    assert_no_leaks(run.project)
    run_cli(["stack", "prune", "--dry-run"], example_project)  # the engine is usable again
