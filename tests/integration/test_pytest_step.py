"""The pytest step runs through `proc` like every other command: the diagnostics bundle's
commands.json lists pytest's command line, its exit code and the end of its output, redacted."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

PRINTS_TOKEN = """
import os

def test_prints_its_token():
    print("the token is", os.environ["PYSTEP_TOKEN"])
"""


def test_pytest_command_and_exit_code_are_in_commands_json(example_project: Path, tmp_path: Path) -> None:
    project = f"pystep-{secrets.token_hex(4)}"
    token = secrets.token_hex(12)  # credential-looking name: its value is redacted everywhere
    (example_project / "example" / "tests" / "test_prints_token.py").write_text(PRINTS_TOKEN)
    args = ["--diagnostics", "always", "--project", project, "--artifacts-dir", str(tmp_path / "art")]
    result = run_cli(
        ["integration-run", "--json", *args, "--", "-s"], example_project, {"PYSTEP_TOKEN": token}
    )
    assert result.returncode == 0, result.output
    commands_json = Path(result.json()["artifacts_dir"]) / "commands.json"
    text = commands_json.read_text()
    commands = json.loads(text)
    pytest_runs = [c for c in commands if " -m pytest " in c["cmd"] and "--junitxml=" in c["cmd"]]
    assert len(pytest_runs) == 1, [c["cmd"] for c in commands]
    (entry,) = pytest_runs
    assert entry["returncode"] == 0 and entry["cwd"] == str(example_project) and entry["seconds"] > 0
    assert " -s " in entry["cmd"] + " "  # the user's extra arguments are part of the record
    assert "the token is ***" in entry["stdout"] and " passed" in entry["stdout"]
    assert token not in text
    assert_no_leaks(project)
