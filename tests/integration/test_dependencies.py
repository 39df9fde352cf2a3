"""Health-gated `depends_on` at probe speed: ci-toolkit starts the levels itself (compose creates
everything), so no gate waits for Docker's healthcheck interval — here 300 s, longer than the
whole `up` timeout — and the stack is the one a plain `compose up` creates."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

COMPOSE = """
services:
  seed:                      # level 1: a one-shot job
    image: redis:7
    command: ["sh", "-c", "echo seeded; sleep 1; exit 0"]
  db:                        # level 2: healthy only once pg_isready says so
    image: postgres:15
    environment: {POSTGRES_PASSWORD: test}
    healthcheck: {test: ["CMD-SHELL", "%(check)s"], interval: %(interval)s, retries: 1}
    depends_on:
      seed: {condition: service_completed_successfully}
    ports: ["127.0.0.1::5432"]
  app:                       # level 3
    image: redis:7
    depends_on:
      db: {condition: service_healthy}
    ports: ["127.0.0.1::6379"]
"""

CONFIG = """
compose_files = ["compose.yaml"]
[services.app]
kind = "redis"
port = 6379
[timeouts]
up = 120
ready = 60
down = 60
[pytest]
paths = ["tests"]
args = ["-q", "-p", "no:cacheprovider"]
"""


def _project_dir(tmp_path: Path, check: str = "pg_isready -U postgres", interval: str = "300s") -> Path:
    (tmp_path / "compose.yaml").write_text(COMPOSE % {"check": check, "interval": interval})
    (tmp_path / "ci-toolkit.toml").write_text(CONFIG)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_app.py").write_text("def test_app():\n    pass\n")
    return tmp_path


def _inspect(project: str) -> dict[str, dict]:  # type: ignore[type-arg]
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    data = json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True).stdout)
    return {c["Config"]["Labels"]["com.docker.compose.service"]: c for c in data}


def test_three_level_chain_comes_up_in_order_without_waiting_an_interval(tmp_path: Path) -> None:
    project_dir = _project_dir(tmp_path)
    project = f"dep-{secrets.token_hex(4)}"
    try:
        result = run_cli(["integration-run", "--json", "--keep", "--project", project], project_dir)
        assert result.returncode == 0, result.output
        data = result.json()
        up = next(p for p in data["phases"] if p["name"] == "up")
        assert up["seconds"] < 120 and "dependency order" in up["detail"], data["phases"]
        assert (
            "db: service_healthy after" in result.stderr
            and "seed: service_completed_successfully" in result.stderr
        )

        containers = _inspect(project)
        seed, db, app = (containers[s]["State"] for s in ("seed", "db", "app"))
        assert seed["ExitCode"] == 0 and seed["FinishedAt"] <= db["StartedAt"] <= app["StartedAt"]
        assert containers["db"]["State"]["Health"]["Status"] == "starting"  # Docker has not looked yet
    finally:
        run_cli(["stack", "down", "--project", project], project_dir)
    assert_no_leaks(project)


def _labels(kind: str, project: str, *names: str) -> dict[str, dict[str, str]]:
    """Labels of a project's containers (by service), networks or volumes, with the project's name
    (and `names`: the run dir of the files compose was given) written as <project>."""
    flt = f"label=com.docker.compose.project={project}"
    listing = {
        "container": ["ps", "-aq"],
        "network": ["network", "ls", "-q"],
        "volume": ["volume", "ls", "-q"],
    }
    ids = subprocess.run(
        ["docker", *listing[kind], "--filter", flt], capture_output=True, text=True
    ).stdout.split()
    out: dict[str, dict[str, str]] = {}
    if not ids:
        return out
    for item in json.loads(
        subprocess.run(["docker", kind, "inspect", *ids], capture_output=True, text=True).stdout
    ):
        labels = (item.get("Config") or item).get("Labels") or {}
        key = (
            labels.get("com.docker.compose.service")
            or labels.get("com.docker.compose.network")
            or labels.get("com.docker.compose.volume", "")
        )
        if kind != "container":  # a network's or volume's hash covers its project-qualified name:
            labels.pop("com.docker.compose.config-hash", None)  # two plain projects differ there too
        for name in (project, *names):
            labels = {k: v.replace(name, "<project>") for k, v in labels.items()}
        out[key] = labels
    return out


def test_the_stack_is_what_a_plain_compose_up_creates(tmp_path: Path) -> None:
    project_dir = _project_dir(tmp_path)
    ours, plain = f"dep-{secrets.token_hex(4)}", f"dep-{secrets.token_hex(4)}"
    compose_up = None
    try:
        up = run_cli(["stack", "up", "--project", ours], project_dir)
        assert up.returncode == 0, up.output
        files = json.loads((project_dir / "ci-artifacts" / "stack.json").read_text())["files"]
        # The same files (the user's and ci-toolkit's owner labels) through plain compose, which
        # creates every container first and then waits 300 s for db's healthcheck.
        cmd = ["docker", "compose", "-p", plain, *[a for f in files for a in ("-f", f)], "up", "-d"]
        compose_up = subprocess.Popen(
            cmd, cwd=project_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        while len(_labels("container", plain)) < 3:
            assert time.monotonic() < deadline, "plain compose never created the containers"
            time.sleep(0.2)
        for kind in ("container", "network", "volume"):
            assert _labels(kind, ours) == _labels(kind, plain, ours), kind
    finally:
        if compose_up is not None:
            compose_up.kill()  # it would wait out the 300 s interval
            compose_up.wait(timeout=60)
        subprocess.run(["docker", "compose", "-p", plain, "down", "-v"], capture_output=True, cwd=project_dir)
        run_cli(["stack", "down", "--project", ours], project_dir)
    assert_no_leaks(ours)
    assert_no_leaks(plain)


def test_a_dependency_that_turns_unhealthy_fails_fast_with_its_logs(tmp_path: Path) -> None:
    # The check fails after 2 s: by then postgres has logged its start (a check that fails at once
    # can turn the container unhealthy before it wrote a line, and there is no log to show).
    project_dir = _project_dir(tmp_path, check="sleep 2; echo probing-db; exit 1", interval="1s")
    project = f"dep-{secrets.token_hex(4)}"
    result = run_cli(["integration-run", "--json", "--project", project], project_dir)
    assert result.returncode == 4, result.output
    data = result.json()
    assert "service 'db' failed while its dependents waited for it" in data["message"], data["message"]
    assert "turned unhealthy" in data["message"] and "last log lines of db" in data["message"]
    up = next(p for p in data["phases"] if p["name"] == "up")
    assert up["status"] == "failed" and up["seconds"] < 60, data["phases"]  # not the 120 s up timeout
    assert_no_leaks(project)
