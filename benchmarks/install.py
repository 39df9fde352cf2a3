"""Installing ci-toolkit in Actions (issue 14): `actions/setup` as a workflow step, run by act on
this host (`-P ubuntu-latest=-self-hosted`), with uv (the default) and with pip (`installer: pip`,
the former path: `python3 -m venv` + `pip install`), each cold (an empty cache) and warm (the
cache the cold run just filled).

The workflow is written into the scratch dir: a checkout (act copies this working tree), the
local `./actions/setup` with the example's extras, then a check that the venv is what the
installer makes (`pip` on PATH is the venv's and `pip install -r` works in it; `ci-toolkit
version` is the step's output; uv wrote its name into pyvenv.cfg, or pip did not). The figure is
act's own execution time of the `./actions/setup` step (its inner steps are the parts).

act skips the remote steps (setup-python, setup-uv, actions/cache: `if: !env.ACT`), each mapped
to a stub that fails if it runs, so the host's `python3` makes the venv and the host's uv (the
dev extra's, put first on PATH alone) installs. Both installers fetch from PyPI, as on GitHub:
uv's and pip's caches are fresh directories under the scratch dir (UV_CACHE_DIR,
PIP_CACHE_DIR), and the host's pip and uv configuration (a local mirror, find-links) is left out
(PIP_CONFIG_FILE=/dev/null, UV_NO_CONFIG=1), so no cache or mirror of the user's is read or
written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks import figures
from benchmarks.stack import REPO, Context

Sample = dict[str, Any]
INSTALLERS = ("uv", "pip")
KEYS = ("uv_cold", "uv_warm", "pip_cold", "pip_warm")
LABELS = {
    "uv_cold": "uv (default): empty uv cache",
    "uv_warm": "uv (default): the cache the cold run filled",
    "pip_cold": "pip (`installer: pip`, the former path): empty pip cache",
    "pip_warm": "pip (`installer: pip`): the cache the cold run filled",
}
EXTRAS = "example"  # what the tier-1 example installs
SETUP_STEP = ("setup",)  # act's stepID of the `./actions/setup` step, and of the check after it
CHECK_STEP = ("check",)
ACT_BACKSTOP = 900  # a hung act, not an estimate: a cold pip install takes well under a minute
REMOTE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<name>[\w.-]+/[\w.-]+)(?:/[\w./-]+)?@(?P<sha>[0-9a-f]{40})")
CHECKOUT = re.compile(r"^\s*-\s+(?P<uses>uses:\s*actions/checkout@[0-9a-f]{40}\s*#\s*v[\d.]+)\s*$", re.M)
STUB = """\
name: stub
description: stands in for a remote action that act cannot fetch here
runs:
  using: composite
  steps:
    - shell: bash
      run: echo "a remote action ran under act" >&2; exit 1
"""
# Dropped from the environment act and its steps get: GitHub's own, a venv's, and the host's
# uv and pip settings (cache places, mirrors), replaced by the run's own below.
DROPPED = ("GITHUB_", "RUNNER_", "ACT", "UV_", "PIP_", "VIRTUAL_ENV")


def checkout_line(example: str) -> str:
    """The pinned `uses: actions/checkout@<sha> # vX.Y.Z` of the tier-1 workflow (one pin to keep)."""
    match = CHECKOUT.search(example)
    if not match:
        raise ValueError("no pinned actions/checkout step in .github/workflows/example.yml")
    return match["uses"]


def workflow(checkout: str) -> str:
    """The benchmark's workflow: `installer` is a workflow_dispatch input."""
    return f"""\
name: install benchmark
on:
  workflow_dispatch:
    inputs:
      installer:
        description: actions/setup's installer (uv or pip)
        type: string
        default: uv
permissions: {{}}
jobs:
  install:
    name: install ci-toolkit
    runs-on: ubuntu-latest
    permissions:
      contents: read
    steps:
      - {checkout}
        with:
          persist-credentials: false
      - id: setup
        uses: ./actions/setup
        with:
          extras: {EXTRAS}
          installer: ${{{{ inputs.installer }}}}
      - id: check
        name: Check the virtualenv
        shell: bash
        env:
          INSTALLER: ${{{{ inputs.installer }}}}
          PYTHON: ${{{{ steps.setup.outputs.python }}}}
          VERSION: ${{{{ steps.setup.outputs.version }}}}
        run: |
          set -euo pipefail
          venv="$(dirname "$(dirname "$PYTHON")")"
          test "$(command -v pip)" = "$venv/bin/pip"
          printf 'ci-toolkit\\n' > "$RUNNER_TEMP/requirements-check.txt"
          pip install --quiet --no-index -r "$RUNNER_TEMP/requirements-check.txt"
          test "$(ci-toolkit version)" = "$VERSION"
          if grep -q '^uv = ' "$venv/pyvenv.cfg"; then made=uv; else made=pip; fi
          test "$made" = "$INSTALLER"
"""


def remote_actions(action: str) -> list[str]:
    """`owner/repo@sha` of every pinned remote action the composite action names."""
    found = {f"{m['name']}@{m['sha']}" for line in action.splitlines() if (m := REMOTE.match(line))}
    return sorted(found)


def act_command(act: str, workflow_file: Path, actions_dir: Path, stub: Path, installer: str) -> list[str]:
    cmd = [act, "workflow_dispatch", "-C", str(REPO), "-W", str(workflow_file)]
    cmd += ["-P", "ubuntu-latest=-self-hosted", "--json", "--action-cache-path", str(actions_dir)]
    cmd += ["--no-cache-server", "--defaultbranch", "main", "--input", f"installer={installer}"]
    for action in remote_actions((REPO / "actions" / "setup" / "action.yml").read_text()):
        cmd += ["--local-repository", f"{action}={stub}"]
    return cmd


def act_env(base: Mapping[str, str], uv_dir: Path, caches: Path) -> dict[str, str]:
    """act runs the steps on this host with its own environment: this one."""
    env = {k: v for k, v in base.items() if not k.startswith(DROPPED)}
    env["PATH"] = os.pathsep.join(p for p in (str(uv_dir), base.get("PATH", "")) if p)
    env.update(
        UV_CACHE_DIR=str(caches / "uv"),
        PIP_CACHE_DIR=str(caches / "pip"),
        UV_NO_CONFIG="1",
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return env


def records(stdout: str) -> list[dict[str, Any]]:
    """act's `--json` log, one record a line (a line that is not JSON is kept as its text)."""
    out: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        out.append(record if isinstance(record, dict) else {"msg": line})
    return out


def steps(log: Sequence[Mapping[str, Any]]) -> dict[tuple[str, ...], dict[str, Any]]:
    """act's Main-stage step results, by stepID: name, result and seconds (executionTime is ns)."""
    found: dict[tuple[str, ...], dict[str, Any]] = {}
    for r in log:
        if "stepResult" not in r or r.get("stage") != "Main":
            continue
        name = re.sub(r"\s*\[[^\]]*\]$", "", str(r["msg"]).split(" - ", 1)[-1].strip()).removeprefix("Main ")
        seconds = r["executionTime"] / 1e9 if isinstance(r.get("executionTime"), int | float) else None
        found[tuple(r.get("stepID") or ())] = {"name": name, "result": r["stepResult"], "seconds": seconds}
    return found


def sample_of(log: Sequence[Mapping[str, Any]], returncode: int) -> Sample:
    """The setup step's seconds and its inner steps' (the ones that ran) from act's log, or why
    the run is no sample: act failed, the setup step or the check after it did not succeed."""
    found = steps(log)
    setup, check = found.get(SETUP_STEP), found.get(CHECK_STEP)
    problems = []
    if returncode != 0:
        problems.append(f"act exited {returncode}")
    for what, step in (("./actions/setup", setup), ("the venv check", check)):
        if not step or step["result"] != "success" or step["seconds"] is None:
            problems.append(f"{what}: {step['result'] if step else 'did not run'}")
    if problems:
        tail = [str(r.get("msg", "")).strip() for r in log if r.get("msg")][-12:]
        return {"ok": False, "problem": "; ".join(problems) + " | " + " / ".join(tail)}
    parts = {
        s["name"]: s["seconds"]
        for key, s in found.items()
        if len(key) == 2 and key[0] == SETUP_STEP[0] and s["result"] == "success" and s["seconds"] is not None
    }
    assert setup is not None
    return {"ok": True, "seconds": setup["seconds"], "parts": parts}


def size_mb(path: Path) -> float:
    """What a cache directory holds on disk (each file once, hard links included)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(root, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total / 1e6


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: `pip install -e '.[dev]'` installs it")
    return found


def versions(uv: str) -> dict[str, str]:
    """uv (the host's, what installs under act) and the pip `python3 -m venv` puts in a venv."""
    pip = "import ensurepip; print(ensurepip.version())"
    return {
        "uv": subprocess.run([uv, "--version"], capture_output=True, text=True, timeout=60).stdout.strip(),
        "pip": subprocess.run(
            ["python3", "-c", pip], capture_output=True, text=True, timeout=60
        ).stdout.strip(),
    }


class Installs:
    """The scratch layout one benchmark run shares: the workflow, the stub, uv alone on a PATH dir."""

    def __init__(self, ctx: Context) -> None:
        self.root = ctx.scratch / "install"
        self.root.mkdir(exist_ok=True)
        self.workflow = self.root / "install.yml"
        example = (REPO / ".github" / "workflows" / "example.yml").read_text()
        self.workflow.write_text(workflow(checkout_line(example)))
        self.stub = self.root / "stub"
        self.stub.mkdir(exist_ok=True)
        (self.stub / "action.yml").write_text(STUB)
        self.act = tool("act")
        self.uv_dir = self.root / "uv-bin"  # only uv: python3 stays the host's, for both installers
        self.uv_dir.mkdir(exist_ok=True)
        uv = tool("uv")
        if not (self.uv_dir / "uv").exists():
            (self.uv_dir / "uv").symlink_to(uv)
        self.versions = versions(uv)

    def run(self, installer: str, caches: Path, tag: str) -> Sample:
        """One act run of the workflow; its act dir (workspace, RUNNER_TEMP, the venv) removed after."""
        actions_dir = self.root / f"act-{tag}"
        cmd = act_command(self.act, self.workflow, actions_dir, self.stub, installer)
        started = time.perf_counter()
        try:
            done = subprocess.run(
                cmd,
                env=act_env(os.environ, self.uv_dir, caches),
                capture_output=True,
                text=True,
                timeout=ACT_BACKSTOP,
                stdin=subprocess.DEVNULL,
            )
        finally:
            shutil.rmtree(actions_dir, ignore_errors=True)
        sample = sample_of(records(done.stdout), done.returncode)
        if not sample["ok"]:
            sample["problem"] += f" | {done.stderr.strip()[-300:]}"
        sample["wall"] = time.perf_counter() - started
        cache = caches / ("uv" if installer == "uv" else "pip")
        sample["cache_mb"] = size_mb(cache) if cache.exists() else 0.0
        sample["versions"] = self.versions
        return sample

    def rep(self, rep: int, order: Sequence[str]) -> Iterator[tuple[str, Sample]]:
        """Per installer (in `order`): cold in fresh cache directories, then warm in the same ones.
        A warm run after a failed cold one is no warm sample."""
        for installer in order:
            caches = self.root / f"caches-{installer}-{rep}"
            cold = self.guarded(installer, caches, f"{installer}-cold-{rep}")
            yield f"{installer}_cold", cold
            if cold["ok"]:
                yield f"{installer}_warm", self.guarded(installer, caches, f"{installer}-warm-{rep}")
            else:
                yield f"{installer}_warm", {"ok": False, "problem": "the cold run before it failed"}
            shutil.rmtree(caches, ignore_errors=True)

    def guarded(self, installer: str, caches: Path, tag: str) -> Sample:
        try:
            return self.run(installer, caches, tag)
        except Exception as exc:  # a timeout, a missing tool: this sample fails, the run goes on
            return {"ok": False, "problem": f"{type(exc).__name__}: {str(exc).strip()[:600]}"}


def summary(samples: Mapping[str, list[Sample]], labels: Mapping[str, str]) -> dict[str, Any]:
    """results.json's `install`: medians per alternative, uv's speed-up over pip, cache sizes."""
    alts = figures.summarize(samples, labels)
    out: dict[str, Any] = {f"{key}_seconds": figures.median_of(alts, key) for key in KEYS}
    out["speedup_cold_vs_pip"] = figures.ratio(out["pip_cold_seconds"], out["uv_cold_seconds"])
    out["speedup_warm_vs_pip"] = figures.ratio(out["pip_warm_seconds"], out["uv_warm_seconds"])
    out["cache_mb"] = {
        key: figures.med(s["cache_mb"] for s in runs if s.get("ok") and "cache_mb" in s)
        for key, runs in samples.items()
    }
    out["versions"] = next((s["versions"] for runs in samples.values() for s in runs if "versions" in s), {})
    out["alternatives"] = alts
    return out
