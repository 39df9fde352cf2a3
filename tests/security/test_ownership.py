"""ci-toolkit deletes only what it created.

`--project NAME` naming someone else's compose project is refused (exit 2) before anything is
swept, started or removed; `stack prune` removes only resources that carry ci-toolkit's labels;
a stack ci-toolkit created (kept, or left by an earlier run) is still its own to reuse and
remove; a project name outside compose's rule is refused before it becomes a path.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, docker_json, leaked_resources, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

FOREIGN_COMPOSE = """\
services:
  cache:
    image: redis:7
    command: ["redis-server", "--appendonly", "yes"]
    volumes:
      - data:/data
volumes:
  data:
"""


@dataclass(frozen=True)
class Foreign:
    project: str
    containers: set[str]
    volume: str


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False)


def _running(project: str) -> set[str]:
    return set(
        docker_json("ps", "-q", "--no-trunc", "--filter", f"label=com.docker.compose.project={project}")
    )


def _volumes(project: str) -> set[str]:
    return set(docker_json("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={project}"))


@pytest.fixture
def foreign_project(tmp_path: Path) -> Iterator[Foreign]:
    """Someone else's project: plain `docker compose -p X up -d`, a named volume with data in it."""
    project = f"theirs-{secrets.token_hex(4)}"
    compose_file = tmp_path / "theirs" / "compose.yml"
    compose_file.parent.mkdir()
    compose_file.write_text(FOREIGN_COMPOSE)
    base = ["compose", "-p", project, "-f", str(compose_file)]
    up = _docker(*base, "up", "-d", "--wait")
    assert up.returncode == 0, up.stderr
    written = _docker(*base, "exec", "-T", "cache", "redis-cli", "set", "precious", "yes")
    assert written.returncode == 0, written.stderr
    try:
        yield Foreign(project, _running(project), f"{project}_data")
    finally:
        _docker(*base, "down", "--volumes", "--timeout", "0")  # the test removes it itself
        assert_no_leaks(project)


def _assert_untouched(foreign: Foreign) -> None:
    assert _running(foreign.project) == foreign.containers, "their containers were stopped or replaced"
    assert _volumes(foreign.project) == {foreign.volume}, "their volume was removed"
    value = _docker("compose", "-p", foreign.project, "exec", "-T", "cache", "redis-cli", "get", "precious")
    assert value.stdout.strip() == "yes", value.stderr


def _assert_refusal(output: str, foreign: Foreign) -> None:
    assert f"compose project {foreign.project} was not created by ci-toolkit" in output, output
    assert f"1 container ({foreign.project}-cache-1)" in output and f"1 volume ({foreign.volume})" in output
    assert "without ci-toolkit's owner labels (io.ci-toolkit.*)" in output
    assert "choose another --project name" in output  # what to do
    assert "Traceback" not in output


def test_integration_run_on_a_foreign_project_is_refused_and_leaves_it_alone(
    example_project: Path, foreign_project: Foreign
) -> None:
    result = run_cli(["integration-run", "--json", "--project", foreign_project.project], example_project)
    assert result.returncode == 2, result.output
    data = result.json()
    assert data["status"] == "config_error" and data["exit_code"] == 2
    _assert_refusal(data["message"], foreign_project)
    phases = [p["name"] for p in data["phases"]]
    assert "up" not in phases and "down" not in phases, phases  # refused in validate: nothing started
    _assert_untouched(foreign_project)


def test_stack_up_and_down_on_a_foreign_project_are_refused(
    example_project: Path, foreign_project: Foreign
) -> None:
    up = run_cli(["stack", "up", "--no-wait", "--project", foreign_project.project], example_project)
    assert up.returncode == 2, up.output
    _assert_refusal(up.output, foreign_project)
    _assert_untouched(foreign_project)

    down = run_cli(["stack", "down", "--project", foreign_project.project], example_project)
    assert down.returncode == 2, down.output
    _assert_refusal(down.output, foreign_project)
    assert f"stack {foreign_project.project} removed" not in down.output
    _assert_untouched(foreign_project)


def test_stack_prune_never_lists_a_foreign_project(example_project: Path, foreign_project: Foreign) -> None:
    pruned = run_cli(["stack", "prune", "--json"], example_project)
    assert pruned.returncode == 0, pruned.output
    assert foreign_project.project not in {d["project"] for d in pruned.json()["stacks"]}
    _assert_untouched(foreign_project)


def test_prune_removes_only_what_carries_ci_toolkits_labels(example_project: Path) -> None:
    """A stale ci-toolkit stack (its owner is gone) that someone else put a container and a
    volume into: prune removes ci-toolkit's volume and leaves the other two."""
    project = f"mixed-{secrets.token_hex(4)}"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    namespace = str(os.stat("/proc/self/ns/pid").st_ino)
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    ours = [
        f"com.docker.compose.project={project}",
        "io.ci-toolkit.run-id=deadbeef",
        f"io.ci-toolkit.owner-pid={gone.pid}",
        "io.ci-toolkit.owner-start=1",
        f"io.ci-toolkit.owner-host={socket.gethostname()}",
        f"io.ci-toolkit.owner-pidns={namespace}",
        f"io.ci-toolkit.owner-boot={boot}",
        "io.ci-toolkit.started-at=1",
        "io.ci-toolkit.keep=false",
    ]
    labels = [arg for label in ours for arg in ("--label", label)]
    theirs = ["--label", f"com.docker.compose.project={project}"]
    try:
        assert _docker("volume", "create", *labels, f"{project}_ours").returncode == 0
        assert _docker("volume", "create", *theirs, f"{project}_theirs").returncode == 0
        started = _docker("run", "-d", "--name", f"{project}-theirs", *theirs, "redis:7")
        assert started.returncode == 0, started.stderr

        pruned = run_cli(["stack", "prune", "--json"], example_project)

        assert pruned.returncode == 0, pruned.output
        decision = {d["project"]: d for d in pruned.json()["stacks"]}[project]
        assert decision["stale"] is True and f"owner process {gone.pid} is gone" in decision["reason"]
        assert "removal failed" not in decision["reason"], decision
        assert _volumes(project) == {f"{project}_theirs"}
        assert len(leaked_resources(project)["containers"]) == 1  # theirs, still there
    finally:
        _docker("rm", "-f", f"{project}-theirs")
        _docker("volume", "rm", "-f", f"{project}_ours", f"{project}_theirs")
        assert_no_leaks(project)


def test_a_stack_ci_toolkit_created_stays_its_own_to_reuse_and_remove(example_project: Path) -> None:
    """A kept `stack up` (or a crashed run) under the same name carries the labels: a run with
    that --project is not refused, and tears the stack down at the end."""
    project = f"again-{secrets.token_hex(4)}"
    try:
        up = run_cli(["stack", "up", "--no-wait", "--project", project], example_project)
        assert up.returncode == 0, up.output
        run = run_cli(["integration-run", "--project", project, "--", "-k", "set_get"], example_project)
        assert run.returncode == 0, run.output
        assert "was not created by ci-toolkit" not in run.output
        assert_no_leaks(project)
    finally:
        run_cli(["stack", "down", "--project", project], example_project)
        assert_no_leaks(project)


@pytest.mark.parametrize("project", ["../../escape", "Upper", "a/b"])
def test_an_invalid_project_name_is_refused_naming_it_and_the_rule(
    example_project: Path, project: str
) -> None:
    for args in (
        ["integration-run", "--json", "--project", project],
        ["stack", "down", "--project", project],
    ):
        result = run_cli(args, example_project)
        assert result.returncode == 2, result.output
        assert f"--project {project!r} is not a valid compose project name" in result.output
        assert "lowercase letters, digits, dashes and underscores" in result.output
        assert "Traceback" not in result.output


def test_an_invalid_project_name_never_becomes_a_path_outside_the_artifacts_dir(
    example_project: Path, tmp_path: Path
) -> None:
    result = run_cli(["integration-run", "--json", "--project", "../../escape"], example_project)
    assert result.returncode == 2, result.output
    assert not (tmp_path / "escape").exists(), "the early-failure bundle was written outside artifacts_dir"
