"""Teardown is one function: `ci-toolkit stack down` removes what the pipeline's own `down` removes,
including resources that carry the project's label but that compose does not know about."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, leaked_resources, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]


def _labelled_container_outside_compose(project: str) -> str:
    """What a `docker compose up` killed half way can leave: a container with the project's label
    that compose's own bookkeeping (its service containers) does not list."""
    out = subprocess.run(
        [
            "docker", "run", "-d", "--name", f"{project}-stray",
            "--label", f"com.docker.compose.project={project}",
            "redis:7", "redis-server",
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def test_stack_down_removes_labelled_leftovers_like_the_pipeline(example_project: Path) -> None:
    project = f"td-{secrets.token_hex(4)}"
    try:
        up = run_cli(["stack", "up", "--no-wait", "--project", project], example_project)
        assert up.returncode == 0, up.output
        stray = _labelled_container_outside_compose(project)
        assert any(
            stray.startswith(c) or c.startswith(stray[:12]) for c in leaked_resources(project)["containers"]
        )

        down = run_cli(["stack", "down", "--project", project], example_project)

        assert down.returncode == 0, down.output
        assert f"stack {project} removed" in down.stdout
        assert leaked_resources(project) == {"containers": [], "networks": [], "volumes": []}
        assert not (example_project / "ci-artifacts" / "stack.json").exists()
    finally:
        subprocess.run(["docker", "rm", "-f", f"{project}-stray"], capture_output=True)
        run_cli(["stack", "down", "--project", project], example_project)
        assert_no_leaks(project)
