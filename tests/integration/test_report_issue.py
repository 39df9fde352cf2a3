"""`report issue` over real failed runs of the bundled example, as the weekly soak and matrix
workflows' `report` jobs run it: a soak whose odd iterations fail (EXAMPLE_FLAKY=1, recorded in a
`[history]` store), then a run that fails on purpose (EXAMPLE_FAIL=1) a week later.

GitHub's API cannot be reached from here: `gh` is the stand-in of
tests/unit/commands/test_report_issue.py, which records its argv and the body file it was given
and answers `gh issue list` with canned JSON. That is the boundary; the runs, the artifacts, the
history store and the CLI are real."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import assert_no_leaks, run_cli
from tests.unit.commands.test_report_issue import LIST, FakeGh

FLAKY = "example/tests/test_orders.py::test_flaky_on_request"
FAILING = "example/tests/test_orders.py::test_fails_on_request"
TITLE = "ci-toolkit: weekly failing on main"


def git(cwd: Path, *args: str) -> str:
    who = {"NAME": "t", "EMAIL": "t@example.com"}
    env = {
        "PATH": "/usr/bin:/bin",
        **{f"GIT_{r}_{k}": v for r in ("AUTHOR", "COMMITTER") for k, v in who.items()},
    }
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def test_a_failed_soak_opens_one_issue_and_the_next_failure_comments_on_it(
    example_project: Path, tmp_path: Path
) -> None:
    config = example_project / "ci-toolkit.toml"
    config.write_text(config.read_text() + '\n[history]\nstore = "ci-history"\n')
    git(example_project, "init", "-q", "-b", "main")
    git(example_project, "add", "-A")
    git(example_project, "commit", "-q", "-m", "example")
    gh = FakeGh.install(tmp_path)
    actions = {"GITHUB_WORKFLOW": "weekly", "GITHUB_REF_NAME": "main", "GITHUB_SERVER_URL": "https://github.com",
               "GITHUB_REPOSITORY": "octo/app", "GITHUB_RUN_ID": "1001"}  # fmt: skip

    soak_dir = tmp_path / "soak"
    project = "citk-issue-soak"
    soak = run_cli(
        ["soak", "--iterations", "2", "--reuse-stack", "--keep-going", "--artifacts-dir", str(soak_dir),
         "--project", project],
        example_project,
        env={"EXAMPLE_FLAKY": "1"},
    )  # fmt: skip
    assert soak.returncode == 1, soak.output  # iteration 1 failed on purpose, iteration 2 passed
    assert_no_leaks(f"{project}-stack")

    opened = run_cli(["report", "issue", str(soak_dir), "--gh"], example_project, {**gh.env(), **actions})
    assert opened.returncode == 0, opened.output
    assert opened.stdout.startswith(f"opened issue #7: {TITLE}\n")
    listed, label, create = gh.calls()
    assert listed["argv"] == LIST and label["argv"][:3] == ["gh", "label", "create"]
    assert create["argv"][:5] == ["gh", "issue", "create", "--title", TITLE]
    body = create["body"]
    # The failed iteration (named by its dir: both ran on one stack), its test's first error line.
    assert f"| {project}-stack/iteration-001 | tests_failed | 1 |" in body
    assert f"- `{FLAKY}` ({project}-stack/iteration-001): `AssertionError: EXAMPLE_FLAKY is set" in body
    # Flaky by the soak's own report and by what [history] recorded, on one line.
    assert f"- `{FLAKY}`: failed in some iterations of this soak, passed in others; failed and passed" in body
    assert "ci-toolkit integration-run" in body
    assert "- its artifacts: https://github.com/octo/app/actions/runs/1001#artifacts" in body

    run_dir = tmp_path / "failed-run"
    failed = run_cli(
        ["integration-run", "--artifacts-dir", str(run_dir), "--project", "citk-issue-fail", "--", "-m",
         "not slow"],
        example_project,
        env={"EXAMPLE_FAIL": "1"},
    )  # fmt: skip
    assert failed.returncode == 1, failed.output
    assert_no_leaks("citk-issue-fail")
    week_later = {**actions, "GITHUB_RUN_ID": "2002"}
    still_open = [{"number": 7, "title": TITLE}]
    commented = run_cli(
        ["report", "issue", str(run_dir), "--gh", "--json"],
        example_project,
        {**gh.env(still_open), **week_later},
    )
    assert commented.returncode == 0, commented.output
    data = commented.json()
    assert (data["action"], data["issue"], data["title"]) == ("comment", 7, TITLE)
    listed, comment = gh.calls()[3:]
    assert listed["argv"] == LIST and comment["argv"][:4] == ["gh", "issue", "comment", "7"]
    assert f"- `{FAILING}`: `AssertionError: EXAMPLE_FAIL is set: failing on purpose" in comment["body"]
    assert "https://github.com/octo/app/actions/runs/2002#artifacts" in comment["body"]
