"""`ci-toolkit report issue`: the open-or-comment decision and the exact `gh` command lines.

GitHub's API cannot be reached from here, so this is the one boundary these tests mock: a
stand-in `gh` on PATH (a small Python script written below) records each argv it is called with
(and the body file's content) and answers `gh issue list` with canned JSON, or fails as gh does
(HTTP 403, not logged in). Everything on ci-toolkit's side is real: the CLI in a subprocess, run
dirs from a real pytest run. What GitHub does with the commands is not tested here; on GitHub the
`report` jobs of matrix.yml and soak.yml run them with the job's token.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.results.model import RunResult
from tests.conftest import CliResult, run_cli
from tests.unit.output.test_issue_report import FAILING, SECRET, failed_run

TITLE = "ci-toolkit: nightly failing on main"
LABEL = "ci-toolkit-failure"
TOKEN = "ghs_16C7e42F292c6912E7710c838347Ae178B4a"
LIST = [
    "gh",
    "issue",
    "list",
    "--label",
    LABEL,
    "--state",
    "open",
    "--json",
    "number,title",
    "--limit",
    "100",
]
MAKE_LABEL = ["gh", "label", "create", LABEL, "--force", "--color", "d73a4a", "--description",
              "a scheduled ci-toolkit run failed"]  # fmt: skip
# Not from Actions: none of the runner's variables (this suite may itself run in Actions).
RUNNER_VARIABLES = ("WORKFLOW", "REF_NAME", "HEAD_REF", "SHA", "SERVER_URL", "REPOSITORY", "RUN_ID")
NOT_IN_ACTIONS = {f"GITHUB_{name}": "" for name in RUNNER_VARIABLES}

FAKE_GH = """\
#!{python}
import json, os, sys
from pathlib import Path

args = sys.argv[1:]
call = {{"argv": ["gh", *args], "token": os.environ.get("GH_TOKEN"), "repo": os.environ.get("GH_REPO")}}
if "--body-file" in args:
    call["body"] = Path(args[args.index("--body-file") + 1]).read_text()
with open(os.environ["FAKE_GH_LOG"], "a") as log:
    log.write(json.dumps(call) + "\\n")
failing = os.environ.get("FAKE_GH_FAIL")
if failing and " ".join(args).startswith(failing):
    sys.stderr.write(os.environ["FAKE_GH_STDERR"] + "\\n")
    sys.exit(int(os.environ.get("FAKE_GH_EXIT", "1")))
if args[:2] == ["issue", "list"]:
    print(os.environ.get("FAKE_GH_OPEN", "[]"))
elif args[:2] == ["issue", "create"]:
    print("https://github.com/octo/app/issues/7")
elif args[:2] == ["issue", "comment"]:
    print(f"https://github.com/octo/app/issues/{{args[2]}}#issuecomment-99")
"""


@dataclass(frozen=True)
class FakeGh:
    """A `gh` on PATH that records its calls in `log` and answers with canned output."""

    bin: Path
    log: Path

    @classmethod
    def install(cls, where: Path) -> FakeGh:
        bin_dir = where / "fake-bin"
        bin_dir.mkdir(parents=True)
        gh = bin_dir / "gh"
        gh.write_text(FAKE_GH.format(python=sys.executable))
        gh.chmod(gh.stat().st_mode | stat.S_IXUSR)
        return cls(bin_dir, where / "gh-calls.jsonl")

    def env(self, open_issues: list[dict[str, Any]] | None = None, **fail: str) -> dict[str, str]:
        env = {
            **NOT_IN_ACTIONS,
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "FAKE_GH_LOG": str(self.log),
            "FAKE_GH_OPEN": json.dumps(open_issues or []),
            "GH_TOKEN": TOKEN,
            "STRIPE_API_KEY": SECRET,  # a credential in the job's environment, and in a test's message
        }
        return {**env, **{f"FAKE_GH_{k.upper()}": v for k, v in fail.items()}}

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.is_file():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


def report_issue(run_dir: Path, cwd: Path, env: dict[str, str], *args: str) -> CliResult:
    return run_cli(
        ["report", "issue", str(run_dir), "--workflow", "nightly", "--branch", "main", *args], cwd, env
    )


def test_no_open_issue_creates_one_after_making_its_label(tmp_path: Path) -> None:
    gh, run = FakeGh.install(tmp_path), failed_run(tmp_path)
    result = report_issue(run, tmp_path, gh.env(), "--gh")
    assert result.returncode == 0, result.output
    assert result.stdout == f"opened issue #7: {TITLE}\nhttps://github.com/octo/app/issues/7\n"
    listed, label, create = gh.calls()
    assert listed["argv"] == LIST and label["argv"] == MAKE_LABEL
    body_file = create["argv"][-1]
    assert create["argv"] == [
        "gh",
        "issue",
        "create",
        "--title",
        TITLE,
        "--label",
        LABEL,
        "--body-file",
        body_file,
    ]
    assert not Path(body_file).exists()  # a temporary file, gone once gh has read it
    assert FAILING in create["body"] and "AssertionError: total was wrong" in create["body"]
    assert create["token"] == TOKEN  # gh gets the token from the environment...
    assert TOKEN not in create["body"] and SECRET not in create["body"]  # ...the issue never sees it


def test_an_open_issue_with_the_same_title_gets_a_comment(tmp_path: Path) -> None:
    gh, run = FakeGh.install(tmp_path), failed_run(tmp_path)
    open_issues = [{"number": 30, "title": "ci-toolkit: nightly failing on release/2.x"},
                   {"number": 12, "title": TITLE}]  # fmt: skip
    body = tmp_path / "out" / "issue.md"
    result = report_issue(run, tmp_path, gh.env(open_issues), "--gh", "--body-out", str(body), "--json")
    assert result.returncode == 0, result.output
    comment = ["gh", "issue", "comment", "12", "--body-file", str(body)]
    assert result.json() == {"action": "comment", "issue": 12, "title": TITLE, "commands": [LIST, comment],
                             "url": "https://github.com/octo/app/issues/12#issuecomment-99"}  # fmt: skip
    listed, commented = gh.calls()
    assert [listed["argv"], commented["argv"]] == [LIST, comment]
    assert commented["body"] == body.read_text() and FAILING in commented["body"]


def test_an_open_issue_of_another_branch_does_not_count(tmp_path: Path) -> None:
    """Its label is there (no `gh label create`), its title is not this branch's: a new issue."""
    gh, run = FakeGh.install(tmp_path), failed_run(tmp_path)
    open_issues = [{"number": 30, "title": "ci-toolkit: nightly failing on release/2.x"}]
    result = report_issue(run, tmp_path, gh.env(open_issues), "--gh", "--json")
    assert result.returncode == 0, result.output
    data = result.json()
    assert (data["action"], data["issue"]) == ("create", 7)
    assert [c["argv"][:3] for c in gh.calls()] == [LIST[:3], ["gh", "issue", "create"]]
    assert data["commands"] == [c["argv"] for c in gh.calls()]


def test_gh_refused_says_what_the_job_needs_and_quotes_gh(tmp_path: Path) -> None:
    gh, run = FakeGh.install(tmp_path), failed_run(tmp_path)
    api = "https://api.github.com/repos/octo/app/issues"
    said = f"HTTP 403: Resource not accessible by integration ({api}) {TOKEN}"
    result = report_issue(run, tmp_path, gh.env(fail="issue create", stderr=said), "--gh")
    assert result.returncode == 3, result.output
    assert "`gh issue create` failed with exit code 1:" in result.stderr
    assert "HTTP 403: Resource not accessible by integration" in result.stderr
    assert "permissions: issues: write" in result.stderr and "GH_TOKEN" in result.stderr
    assert TOKEN not in result.output


def test_gh_not_logged_in_is_an_environment_error(tmp_path: Path) -> None:
    gh, run = FakeGh.install(tmp_path), failed_run(tmp_path)
    said = "To get started with GitHub CLI, please run:  gh auth login"
    result = report_issue(run, tmp_path, gh.env(fail="issue list", stderr=said, exit="4"), "--gh")
    assert result.returncode == 3, result.output
    assert "`gh issue list` failed with exit code 4:" in result.stderr and "gh auth login" in result.stderr
    assert len(gh.calls()) == 1  # nothing created after the list failed


def test_github_failing_is_an_infrastructure_error(tmp_path: Path) -> None:
    gh, run = FakeGh.install(tmp_path), failed_run(tmp_path)
    result = report_issue(run, tmp_path, gh.env(fail="issue list", stderr="HTTP 502: Bad Gateway"), "--gh")
    assert result.returncode == 4, result.output
    assert "HTTP 502: Bad Gateway" in result.stderr and "re-run the job" in result.stderr


def test_without_gh_on_path_it_says_where_gh_comes_from(tmp_path: Path) -> None:
    run, empty = failed_run(tmp_path), tmp_path / "no-gh"
    empty.mkdir()
    result = report_issue(run, tmp_path, {**NOT_IN_ACTIONS, "PATH": str(empty)}, "--gh")
    assert result.returncode == 3, result.output
    assert "gh (GitHub's CLI) is not on PATH" in result.stderr
    assert "GitHub-hosted runner" in result.stderr and "https://cli.github.com" in result.stderr


def test_a_run_that_passed_reports_nothing_and_calls_no_gh(tmp_path: Path) -> None:
    gh, run = FakeGh.install(tmp_path), tmp_path / "passed"
    run.mkdir()
    (run / "run.json").write_text(json.dumps(RunResult("passed", 0, "citk-ok").to_dict()))
    result = report_issue(run, tmp_path, gh.env(), "--gh")
    assert result.returncode == 0, result.output
    assert result.stdout == f"{run}: the run passed; no issue to open or comment on\n"
    assert gh.calls() == []


def test_print_mode_sends_nothing_and_shows_both_alternatives(tmp_path: Path) -> None:
    gh, run = FakeGh.install(tmp_path), failed_run(tmp_path)
    body = tmp_path / "issue.md"
    result = report_issue(run, tmp_path, gh.env(), "--body-out", str(body))
    assert result.returncode == 0, result.output
    assert gh.calls() == []
    assert result.stdout == body.read_text() and FAILING in result.stdout
    assert SECRET not in result.output and "api key ***" in result.stdout  # from the job's environment
    assert f"title: {TITLE}\n" in result.stderr
    assert f"  gh issue list --label {LABEL} --state open --json number,title --limit 100\n" in result.stderr
    assert f"  gh issue comment NUMBER --body-file {body}\n" in result.stderr
    assert f"  gh issue create --title '{TITLE}' --label {LABEL} --body-file {body}\n" in result.stderr
    printed = run_cli(["report", "issue", str(run), "--json"], tmp_path, gh.env()).json()
    assert (printed["action"], printed["issue"], printed["commands"]) == (None, None, [LIST])
    assert printed["then"]["comment"][:4] == ["gh", "issue", "comment", "NUMBER"]
    assert printed["title"] == "ci-toolkit: WORKFLOW failing on BRANCH"  # nothing to find: placeholders


def test_in_actions_the_title_and_links_come_from_the_runner(tmp_path: Path) -> None:
    gh, run = FakeGh.install(tmp_path), failed_run(tmp_path)
    actions = {"GITHUB_WORKFLOW": "matrix", "GITHUB_REF_NAME": "main", "GITHUB_SHA": "f" * 40,
               "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "octo/app",
               "GITHUB_RUN_ID": "987654"}  # fmt: skip
    result = run_cli(["report", "issue", str(run), "--gh", "--json"], tmp_path, {**gh.env(), **actions})
    assert result.returncode == 0, result.output
    assert result.json()["title"] == "ci-toolkit: matrix failing on main"
    body = gh.calls()[-1]["body"]
    assert "- its artifacts: https://github.com/octo/app/actions/runs/987654#artifacts" in body
    assert "<!-- ci-toolkit:issue workflow=matrix branch=main -->" in body and "at `ffffffffffff`" in body


def test_gh_mode_outside_actions_needs_the_workflow_and_branch(tmp_path: Path) -> None:
    gh, run = FakeGh.install(tmp_path), failed_run(tmp_path)
    result = run_cli(["report", "issue", str(run), "--gh", "--branch", "main"], tmp_path, gh.env())
    assert result.returncode == 2, result.output
    assert re.search(r"--workflow not given .*the issue's title needs it", result.stderr)
    assert gh.calls() == []
