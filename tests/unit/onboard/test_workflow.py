"""The workflow `init` writes: actionlint and zizmor (both personas, --offline) find nothing in it,
in either mode; least permissions, pinned actions, no expression inside a run: script, the paths
filter as given plus the workflow itself, the same bytes for the same input, and a UsageError for
a toolkit ref or repository it cannot use."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_toolkit.errors import UsageError
from ci_toolkit.onboard import pins, workflow
from ci_toolkit.onboard.model import MARKER, InitOptions, written_by_init
from tests.unit.workflows.test_workflows import BIN, PIN_TABLE, USES, pin_problems, run_blocks, tool, version

SHA = "0123456789abcdef0123456789abcdef01234567"
ACTIONS = InitOptions(toolkit_repository="acme/ci-toolkit", toolkit_ref=SHA)
MODES = {"index": InitOptions(), "actions": ACTIONS}
PATH_LISTS = {
    "typical": ["docker-compose.yml", "pyproject.toml", "migrations/**", "tests/**", "src/app/**", "uv.lock"],
    # Globs and names that are YAML syntax when plain: an alias star, a comment, a flow sequence,
    # a flow mapping, a colon-space, quotes, a backslash, a space, and non-ASCII.
    "awkward": [
        "**/*.py",
        "#notes.md",
        "[ab]/**",
        "{odd}.yml",
        "a: b",
        'say "hi"',
        "c:\\x",
        "my dir/f g",
        "café/**",
    ],
    "none": [],
}
INSTALLS = ("pip install uv && uv sync --frozen", "pip install -e '.[test]'", "")


def rendered(options: InitOptions = MODES["index"], paths: list[str] | None = None, install: str = "") -> str:
    paths = PATH_LISTS["typical"] if paths is None else paths
    return workflow.render(paths=paths, install=install, options=options, version="0.1.0")


def load(text: str) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(text)
    data["on"] = data.pop(True)  # YAML 1.1 reads the key `on` as true
    return data


def steps(text: str) -> list[dict[str, Any]]:
    (job,) = load(text)["jobs"].values()
    return list(job["steps"])


def lint(tmp_path: Path, text: str) -> list[str]:
    """What actionlint and zizmor (default and auditor persona, offline) say of the workflow,
    written where a repository keeps it; [] when they say nothing."""
    repo = tmp_path / "repo"
    target = repo / workflow.PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # actionlint's shellcheck
    commands = [[tool("actionlint"), "-no-color", workflow.PATH]] + [
        [tool("zizmor"), "--offline", "--persona", persona, "--no-progress", "--color=never", ".github"]
        for persona in ("regular", "auditor")
    ]
    findings = []
    for command in commands:
        proc = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            findings.append(f"{' '.join(command[1:])}:\n{proc.stdout}{proc.stderr}")
    return findings


@pytest.mark.parametrize("install", INSTALLS)
@pytest.mark.parametrize("paths", PATH_LISTS)
@pytest.mark.parametrize("mode", MODES)
def test_actionlint_and_zizmor_find_nothing(tmp_path: Path, mode: str, paths: str, install: str) -> None:
    findings = lint(tmp_path, rendered(MODES[mode], PATH_LISTS[paths], install))
    assert not findings, "\n\n".join(findings)


def test_the_linters_do_catch_an_unsafe_workflow(tmp_path: Path) -> None:
    """The check above can fail: an expression in a run: script and an unpinned action."""
    text = rendered().replace(
        "run: ci-toolkit integration-run --github", 'run: echo "${{ github.event.pull_request.title }}"'
    )
    text = text.replace(pins.CHECKOUT.uses, "actions/checkout@v7")
    findings = "\n".join(lint(tmp_path, text))
    assert "potentially untrusted" in findings  # actionlint
    assert "template-injection" in findings and "unpinned-uses" in findings  # zizmor


@pytest.mark.parametrize("mode", MODES)
def test_nothing_by_default_and_the_job_reads_the_contents_only(mode: str) -> None:
    wf = load(rendered(MODES[mode]))
    assert wf["permissions"] == {}
    for job in wf["jobs"].values():
        assert job["permissions"] == {"contents": "read"}
        assert job["name"] and 0 < job["timeout-minutes"] <= 30
        checkout = job["steps"][0]
        assert checkout["uses"].startswith("actions/checkout@")
        assert checkout["with"] == {"persist-credentials": False}


@pytest.mark.parametrize("mode", MODES)
def test_triggers_paths_concurrency_and_header(mode: str) -> None:
    text = rendered(MODES[mode])
    wf = load(text)
    assert text.startswith(MARKER) and written_by_init(text) and "`ci-toolkit init --check`" in text
    assert wf["on"]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in wf["on"]
    assert wf["concurrency"] == {
        "group": "${{ github.workflow }}-${{ github.ref }}",
        "cancel-in-progress": True,
    }


@pytest.mark.parametrize("paths", PATH_LISTS)
def test_the_paths_filter_lists_each_path_as_given_and_the_workflow(paths: str) -> None:
    given = PATH_LISTS[paths]
    on = load(rendered(paths=[*given, "", workflow.PATH, *given]))["on"]  # duplicates and "" dropped
    assert (
        on["push"]["paths"]
        == on["pull_request"]["paths"]
        == [*given, ".github/workflows/integration-tests.yml"]
    )


@pytest.mark.parametrize("mode", MODES)
def test_every_action_is_pinned_by_sha_with_its_version(mode: str, tmp_path: Path) -> None:
    text = rendered(MODES[mode])
    uses = [m for m in map(USES.match, text.splitlines()) if m]
    assert len(uses) == len([s for s in steps(text) if "uses" in s]) >= 2
    for match in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}", match["ref"]), match["ref"]
        assert re.fullmatch(r"v\d+\.\d+\.\d+", match["comment"] or ""), match.group(0)
    third_party = tmp_path / "third-party.yml"  # the pin-table check of our own workflows
    third_party.write_text("\n".join(m.group(0) for m in uses if not m["ref"].startswith("acme/")))
    assert pin_problems(third_party) == []


def test_the_actions_mode_uses_ci_toolkit_s_actions_at_that_commit() -> None:
    text = rendered(ACTIONS, install="pip install -r requirements-test.txt")
    assert [(s["name"], s.get("uses", "").split("@")[0]) for s in steps(text)] == [
        ("Check out", "actions/checkout"),
        ("Set up Python and ci-toolkit", "acme/ci-toolkit/actions/setup"),
        ("Install the test dependencies", ""),
        ("ci-toolkit integration-run", "acme/ci-toolkit/actions/integration-run"),
    ]
    assert f"acme/ci-toolkit/actions/setup@{SHA} # v0.1.0\n" in text
    assert f"acme/ci-toolkit/actions/integration-run@{SHA} # v0.1.0\n" in text
    assert steps(text)[1]["with"] == {"python-version": "3.12"}  # a string: 3.10 is not 3.1
    # An upper-case SHA is the same commit, written the way the pin checks read it.
    upper = InitOptions(toolkit_repository="acme/ci-toolkit", toolkit_ref=SHA.upper())
    assert rendered(upper, install="pip install -r requirements-test.txt") == text


def test_the_index_mode_installs_the_pinned_version_and_uploads_the_artifacts() -> None:
    text = rendered(install="pip install -r requirements-test.txt")
    by_name = {s["name"]: s for s in steps(text)}
    assert list(by_name) == [
        "Check out",
        "Set up Python",
        "Install ci-toolkit",
        "Install the test dependencies",
        "ci-toolkit integration-run",
        "Upload the run's artifacts",
        "Remove the stack if it is still there",
    ]
    assert by_name["Set up Python"]["with"] == {"python-version": "3.12"}
    assert '"ci-toolkit==0.1.0"' in by_name["Install ci-toolkit"]["run"]
    assert by_name["ci-toolkit integration-run"]["run"] == "ci-toolkit integration-run --github"
    upload = by_name["Upload the run's artifacts"]
    assert upload["uses"].startswith("actions/upload-artifact@") and "always()" in upload["if"]
    assert upload["with"]["name"] == "ci-toolkit-integration-tests" and upload["with"]["overwrite"] is True
    assert by_name["Remove the stack if it is still there"]["env"] == {
        "PROJECT": "${{ steps.run.outputs.project }}"
    }
    assert "/actions/" not in text  # no action of ours: ci-toolkit comes from the package index


@pytest.mark.parametrize("install", [*INSTALLS, "  set -e\n  pip install -r a.txt  # pinned: see a.txt\n"])
@pytest.mark.parametrize("mode", MODES)
def test_no_expression_inside_run_and_the_install_command_verbatim(mode: str, install: str) -> None:
    text = rendered(MODES[mode], install=install)
    scripts = list(run_blocks(yaml.safe_load(text)))
    assert all("${{" not in s for s in scripts)
    assert len(scripts) == (3 if mode == "index" else 0) + bool(install)
    installs = [s["run"] for s in steps(text) if s["name"] == "Install the test dependencies"]
    assert installs == ([install.strip() + "\n"] if install else [])


@pytest.mark.parametrize("mode", MODES)
def test_the_same_input_gives_the_same_bytes(mode: str) -> None:
    first = rendered(MODES[mode], PATH_LISTS["awkward"], INSTALLS[0])
    assert rendered(MODES[mode], list(PATH_LISTS["awkward"]), INSTALLS[0]).encode() == first.encode()
    assert rendered(MODES[mode], PATH_LISTS["typical"], INSTALLS[0]) != first


def at(ref: str, repository: str = "acme/ci-toolkit") -> InitOptions:
    return InitOptions(toolkit_repository=repository, toolkit_ref=ref)


@pytest.mark.parametrize(
    ("options", "install", "message"),
    [
        (at("main"), "", "--toolkit-ref main: not a 40-hex commit SHA"),
        (at("v0.1.0"), "", "--toolkit-ref v0.1.0: not a 40-hex commit SHA"),
        (at(SHA[:39]), "", "not a 40-hex commit SHA"),
        (at(SHA[:39] + "g"), "", "not a 40-hex commit SHA"),
        (at(SHA, repository=""), "", f"--toolkit-ref {SHA}: which repository is that commit in?"),
        (at("", repository="acme/ci-toolkit"), "", "needs the commit of its actions too"),
        (at(SHA, repository="acme"), "", "--toolkit-repository acme: expected OWNER/NAME"),
        (at(SHA, repository="a/b/c"), "", "expected OWNER/NAME"),
        (at(SHA, repository="acme/.."), "", "expected OWNER/NAME"),
        (InitOptions(python_version=""), "", "--python: empty"),
        (InitOptions(), "pip install ${{ inputs.extra }}", "inside run:"),
        (InitOptions(), "pip install\x1b[31m", "a control character"),
    ],
)
def test_what_cannot_be_written_is_a_usage_error(options: InitOptions, install: str, message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)) as err:
        rendered(options, install=install)
    assert err.value.exit_code == 2


def test_an_empty_python_is_the_runner_s_own_with_our_actions() -> None:
    options = InitOptions(toolkit_repository="acme/ci-toolkit", toolkit_ref=SHA, python_version="")
    assert steps(rendered(options))[1]["with"] == {"python-version": ""}


def test_a_version_pip_cannot_install_is_refused() -> None:
    with pytest.raises(UsageError, match="not a version pip can install"):
        workflow.render(paths=[], install="", options=InitOptions(), version="0.1.0; rm -rf /")


def test_the_pins_are_the_latest_releases_of_the_pin_table() -> None:
    table = json.loads(PIN_TABLE.read_text())["actions"]
    for pin in pins.PINS:
        releases: dict[str, str] = table[pin.action]["releases"]
        latest = max(releases, key=version)
        assert (pin.tag, pin.sha) == (latest, releases[latest]), pin.action
    used = {m["ref"].split("@")[0] for m in map(USES.match, rendered().splitlines()) if m}
    assert used == {p.action for p in pins.PINS}  # each pin used, nothing used without one


def test_pushes_to_the_repositorys_default_branch_and_an_odd_name_falls_back_to_main() -> None:
    options = MODES["index"]
    text = workflow.render(paths=["tests/**"], install="", options=options, version="0.1.0", branch="trunk")
    assert load(text)["on"]["push"]["branches"] == ["trunk"]
    odd = workflow.render(paths=["tests/**"], install="", options=options, version="0.1.0", branch="a: b")
    assert load(odd)["on"]["push"]["branches"] == ["main"]
