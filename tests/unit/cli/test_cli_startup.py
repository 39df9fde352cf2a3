"""`ci-toolkit --help` must start fast: no docker, boto3 or psycopg import on that path."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("docker", "boto3", "botocore", "psycopg")


def _modules_after(args: list[str]) -> set[str]:
    code = (
        "import sys, json\n"
        "from ci_toolkit.cli import app\n"
        "try:\n"
        f"    app({args!r}, standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_help_imports_no_heavy_library() -> None:
    loaded = _modules_after(["--help"])
    assert "ci_toolkit.cli" in loaded
    assert not [m for m in loaded if m.split(".")[0] in HEAVY]


def test_subcommand_help_imports_no_heavy_library() -> None:
    loaded = _modules_after(["integration-run", "--help"])
    assert not [m for m in loaded if m.split(".")[0] in HEAVY]


def test_help_lists_every_tier3_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ci_toolkit", "--help"], capture_output=True, text=True
    ).stdout
    for command in ("integration-run", "config", "env", "stack", "migrate", "test"):
        assert command in out
    stack = subprocess.run(
        [sys.executable, "-m", "ci_toolkit", "stack", "--help"], capture_output=True, text=True
    ).stdout
    for command in ("up", "wait", "ps", "logs", "down"):
        assert command in stack
