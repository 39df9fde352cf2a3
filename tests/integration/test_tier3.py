"""Tier 3: each step alone, the developer loop, and migrations re-applied on a kept stack."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]


def test_stack_up_migrate_test_down_loop(example_project: Path) -> None:
    project = f"t3-{secrets.token_hex(4)}"
    try:
        check = run_cli(["config", "check"], example_project)
        assert check.returncode == 0, check.output
        assert "3 services: nats, postgres, redis" in check.stdout

        up = run_cli(["stack", "up", "--project", project], example_project)
        assert up.returncode == 0, up.output
        assert f"stack {project} is up" in up.stdout and "export DATABASE_URL=" in up.stdout
        state_text = (example_project / "ci-artifacts" / "stack.json").read_text()
        state = json.loads(state_text)
        assert state["project"] == project
        assert "DATABASE_URL" not in state_text and "test:test@" not in state_text  # no DSNs on disk

        first = run_cli(["migrate"], example_project)
        assert first.returncode == 0, first.output
        assert (
            "applied 001_create_orders.sql" in first.stdout and "2 applied, 0 already applied" in first.stdout
        )

        # A new file on a kept stack: only it is applied.
        (example_project / "migrations" / "003_add_note.sql").write_text(
            "ALTER TABLE orders ADD COLUMN note text;\n"
        )
        second = run_cli(["migrate"], example_project)
        assert second.returncode == 0, second.output
        assert "1 applied, 2 already applied" in second.stdout
        assert "001_create_orders" not in second.stdout

        tests = run_cli(["test", "--json", "--", "-k", "set_get or migrations"], example_project)
        assert tests.returncode == 0, tests.output
        assert tests.json()["tests"]["passed"] == 2

        ps = run_cli(["stack", "ps"], example_project)
        assert ps.returncode == 0 and ps.stdout.count("running") == 3, ps.output
        logs = run_cli(["stack", "logs", "nats", "--tail", "50"], example_project)
        assert "Server is ready" in logs.stdout
    finally:
        down = run_cli(["stack", "down"], example_project)
    assert down.returncode == 0, down.output
    assert not (example_project / "ci-artifacts" / "stack.json").exists()
    assert_no_leaks(project)


def test_keep_leaves_stack_up_and_says_how_to_remove_it(example_project: Path) -> None:
    project = f"keep-{secrets.token_hex(4)}"
    try:
        result = run_cli(["integration-run", "--keep", "--project", project], example_project)
        assert result.returncode == 0, result.output
        assert "stack kept running (--keep)" in result.stdout
        assert (
            f"docker compose -p {project}" in result.stdout
            and "down --volumes --remove-orphans" in result.stdout
        )
        assert "postgres: 5432->127.0.0.1:" in result.stdout
        ps = run_cli(["stack", "ps"], example_project)
        assert ps.stdout.count("running") == 3, ps.output
        # Re-running migrations on the kept stack applies nothing new.
        again = run_cli(["migrate"], example_project)
        assert "0 applied, 2 already applied" in again.stdout, again.output
    finally:
        run_cli(["stack", "down", "--project", project], example_project)
    assert_no_leaks(project)


def test_commands_without_a_stack_say_how_to_start_one(example_project: Path) -> None:
    result = run_cli(["migrate"], example_project)
    assert result.returncode == 2
    assert "no running stack recorded" in result.stderr and "ci-toolkit stack up" in result.stderr
