"""`-v` on commands that drive the real engine, and `--json` on the commands that had none
(migrate, stack logs, stack down, snapshot save), run from a subdirectory of the project."""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

TIMED = r"  \(\d+\.\d\ds, exit \d+\)$"


def _commands(stderr: str, *words: str) -> list[str]:
    """The verbose lines (`$ CMD  (TIME, exit N)`) whose command holds all of `words` (the test
    step also shows pytest's command as it starts, without a time)."""
    lines = stderr.splitlines()
    return [
        ln for ln in lines if ln.startswith("$ ") and re.search(TIMED, ln) and all(w in ln for w in words)
    ]


def test_config_check_verbose_prints_compose_config_with_its_time(example_project: Path) -> None:
    for args in (["config", "check", "-v"], ["-v", "config", "check"], ["--verbose", "config", "check"]):
        result = run_cli(args, example_project)
        assert result.returncode == 0, result.output
        [line] = _commands(result.stderr, "docker compose -p citk-config-check", "config --format json")
        assert re.search(TIMED, line), line
        assert line.endswith(", exit 0)")
    quiet = run_cli(["config", "check"], example_project)
    assert not _commands(quiet.stderr), quiet.stderr


def test_verbose_env_variable_without_the_flag(example_project: Path) -> None:
    result = run_cli(["config", "check"], example_project, env={"CI_TOOLKIT_VERBOSE": "1"})
    assert _commands(result.stderr, "docker compose", "config --format json"), result.output


def test_tier3_json_and_verbose_from_a_subdirectory(example_project: Path) -> None:
    project = f"verbose-{secrets.token_hex(4)}"
    subprocess.run(["git", "init", "-q", str(example_project)], check=True)
    here = example_project / "example" / "tests"  # the config is found two levels up
    token = "Zq7verboseSecretXy"
    (example_project / "secrets.env").write_text(f"API_KEY={token}\n")
    try:
        up = run_cli(["-v", "stack", "up", "--project", project, "--json"], here)
        assert up.returncode == 0, up.output
        assert up.json()["project"] == project
        [compose_up] = _commands(up.stderr, f"docker compose -p {project}", " up ")
        assert re.search(TIMED, compose_up), compose_up

        first = run_cli(["migrate", "--json"], here)
        assert first.returncode == 0, first.output
        assert first.json()["applied"] == ["001_create_orders.sql", "002_seed_customers.sql"]
        assert "applied 001_create_orders.sql" in first.stderr  # progress: stderr
        again = run_cli(["migrate", "--json"], here).json()
        assert again["applied"] == [] and again["detail"] == "0 applied, 2 already applied"

        logs = run_cli(["stack", "logs", "nats", "--tail", "50", "--json"], here)
        assert logs.returncode == 0, logs.output
        assert logs.json()["project"] == project and "Server is ready" in logs.json()["logs"]

        # A [secrets] value in pytest's argv: masked in the verbose line, like everywhere.
        tests = run_cli(
            [
                "test",
                "-v",
                "--secrets-file",
                "../../secrets.env",
                "--json",
                "--",
                "-k",
                f"set_get and not {token}",
            ],
            here,
        )
        assert tests.returncode == 0, tests.output
        assert tests.json()["tests"]["passed"] == 1
        [pytest_line] = _commands(tests.stderr, "pytest", "-k")
        assert token not in tests.output
        assert "'set_get and not ***'" in pytest_line and re.search(TIMED, pytest_line), pytest_line

        saved = run_cli(["snapshot", "save", str(example_project / "cache"), "--json"], here)
        assert saved.returncode == 0, saved.output
        assert saved.json()["saved"] is False and saved.json()["reason"] == "no snapshot on this machine"
    finally:
        down = run_cli(["stack", "down", "--json"], here)
    assert down.returncode == 0, down.output
    assert down.json()["project"] == project and down.json()["removed"] is True
    assert "down" in [phase["name"] for phase in down.json()["phases"]]
    assert_no_leaks(project)
