"""The shell scripts of the composite actions and the reusable workflow, taken out of their YAML
and run with real bash the way the runner runs a `shell: bash` step
(`bash --noprofile --norc -eo pipefail FILE`), with the step's `env:` filled in from the inputs.

The integration-run step's `ci-toolkit` is, here, a small program on PATH that writes the
arguments it was given to a file: what reaches ci-toolkit is what these tests check (the real
run, through act, is tests/e2e/test_act_example.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
INPUT = re.compile(r"^\$\{\{\s*inputs\.([\w-]+)\s*\}\}$")
RECORD_ARGV = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["ARGV_FILE"], "w") as f:
    json.dump(sys.argv[1:], f)
"""
WORKFLOW_SHA = "0123456789abcdef0123456789abcdef01234567"


def step(path: Path, step_id: str) -> dict[str, Any]:
    spec = yaml.safe_load(path.read_text())
    jobs = spec.get("jobs", {}).values()
    steps = spec["runs"]["steps"] if "runs" in spec else [s for job in jobs for s in job["steps"]]
    found: dict[str, Any] = next(s for s in steps if s.get("id") == step_id)
    return found


def run_bash(tmp_path: Path, script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    file = tmp_path / "step.sh"
    file.write_text(script)
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(file)],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def integration_run_step(tmp_path: Path, pytest_args: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    """Run the integration-run step with the inputs' defaults and this `pytest-args`; return the
    process and the arguments ci-toolkit got (None if it was not started)."""
    action = REPO / "actions" / "integration-run" / "action.yml"
    inputs = yaml.safe_load(action.read_text())["inputs"]
    run = step(action, "run")
    env = {}
    for name, value in run["env"].items():
        match = INPUT.match(value)
        assert match, f"{name}: {value} is not an input"
        env[name] = pytest_args if match[1] == "pytest-args" else str(inputs[match[1]]["default"])
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "ci-toolkit").write_text(RECORD_ARGV)
    (bindir / "ci-toolkit").chmod(0o755)
    argv_file = tmp_path / "argv.json"
    env |= {"ARGV_FILE": str(argv_file), "PATH": f"{bindir}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = run_bash(tmp_path, run["run"], env)
    return proc, json.loads(argv_file.read_text()) if argv_file.exists() else None


@pytest.mark.parametrize(
    ("pytest_args", "passed"),
    [
        ("", []),
        ("   ", []),  # what a workflow_dispatch form field left with a space sends
        (" \t\n ", []),
        ("-x", ["--", "-x"]),
        ("-k 'not slow'   -x", ["--", "-k", "not slow", "-x"]),
        ("'tests/a b.py' -p no:randomly", ["--", "tests/a b.py", "-p", "no:randomly"]),
        ("-k 'one\ntwo'", ["--", "-k", "one\ntwo"]),  # a quoted newline stays inside its word
        ("$HOME `id` *.py", ["--", "$HOME", "`id`", "*.py"]),  # nothing is expanded
    ],
    ids=["empty", "spaces", "whitespace", "one", "quoted", "path-with-space", "newline", "no-expansion"],
)
def test_pytest_args_are_split_like_a_shell_and_whitespace_is_no_argument(
    tmp_path: Path, pytest_args: str, passed: list[str]
) -> None:
    proc, argv = integration_run_step(tmp_path, pytest_args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert argv == ["integration-run", "--github", *passed]


def test_unbalanced_quotes_in_pytest_args_fail_before_ci_toolkit_starts(tmp_path: Path) -> None:
    proc, argv = integration_run_step(tmp_path, "-k 'not slow")
    assert proc.returncode == 2 and argv is None
    error = "::error title=ci-toolkit integration-run::pytest-args: No closing quotation;"
    assert proc.stdout.startswith(error), proc.stdout
    assert "Traceback" not in proc.stderr


def resolve_toolkit(tmp_path: Path, **given: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run the reusable workflow's "which ci-toolkit" step; return it and its outputs."""
    resolver = step(REPO / ".github" / "workflows" / "integration.yml", "toolkit")
    output = tmp_path / "github_output"
    env = {name: "" for name in resolver["env"]} | {"CALLER_REPOSITORY": "caller/app"} | given
    proc = run_bash(tmp_path, resolver["run"], env | {"GITHUB_OUTPUT": str(output)})
    lines = output.read_text().splitlines() if output.exists() else []
    return proc, dict(line.split("=", 1) for line in lines)


def test_the_reusable_workflow_runs_the_actions_of_its_own_commit_by_default(tmp_path: Path) -> None:
    workflow = {"WORKFLOW_REPOSITORY": "owner/ci-toolkit", "WORKFLOW_SHA": WORKFLOW_SHA}
    proc, outputs = resolve_toolkit(tmp_path, **workflow)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outputs == {"repository": "owner/ci-toolkit", "ref": WORKFLOW_SHA}
    # Naming the same repository (any case) still pins the workflow's own commit.
    proc, outputs = resolve_toolkit(tmp_path, TOOLKIT_REPOSITORY="Owner/CI-Toolkit", **workflow)
    assert outputs == {"repository": "Owner/CI-Toolkit", "ref": WORKFLOW_SHA}


def test_a_given_toolkit_ref_wins_and_a_branch_gets_a_warning(tmp_path: Path) -> None:
    proc, outputs = resolve_toolkit(
        tmp_path, TOOLKIT_REPOSITORY="fork/ci-toolkit", TOOLKIT_REF="main", WORKFLOW_SHA=WORKFLOW_SHA
    )
    assert proc.returncode == 0 and outputs == {"repository": "fork/ci-toolkit", "ref": "main"}
    assert "::warning title=ci-toolkit reusable workflow::toolkit-ref main is not a commit SHA" in proc.stdout


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "cannot tell which commit this reusable workflow was loaded from (job.workflow_sha is empty"),
        (
            {"TOOLKIT_REPOSITORY": "fork/ci-toolkit", "WORKFLOW_REPOSITORY": "owner/ci-toolkit"},
            "toolkit-repository fork/ci-toolkit is not the repository this workflow was loaded from",
        ),
        ({"TOOLKIT_REF": "main\nref=evil"}, "toolkit-repository must be OWNER/NAME and toolkit-ref one ref"),
    ],
    ids=["no-workflow-sha", "other-repository", "bad-ref"],
)
def test_the_reusable_workflow_fails_where_the_commit_cannot_be_known(
    tmp_path: Path, given: dict[str, str], message: str
) -> None:
    if "WORKFLOW_REPOSITORY" in given:
        given = given | {"WORKFLOW_SHA": WORKFLOW_SHA}
    proc, outputs = resolve_toolkit(tmp_path, **given)
    assert proc.returncode == 1 and outputs == {}
    assert proc.stdout.startswith(f"::error title=ci-toolkit reusable workflow::{message}"), proc.stdout
