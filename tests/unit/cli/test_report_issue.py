"""`report issue`: the body, the open-or-comment decision and the exact `gh` command lines.

GitHub's REST API cannot be reached here, so `gh` is the mocked boundary: a stand-in script on
PATH records its argv (and the body file it was given) and answers `gh issue list` with canned
JSON. Everything on our side of it (the run dir read, the title, the body, the decision, the
error messages) is the real command, run as a subprocess."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from ci_toolkit.results.model import FailedTest, PhaseResult, RunResult, TestCounts
from tests.conftest import run_cli

TITLE = "ci-toolkit: weekly failing on main"
GH = """#!{python}
import json, os, sys
log = os.environ["FAKE_GH_LOG"]
args = sys.argv[1:]
entry = {{"argv": ["gh", *args]}}
if "--body-file" in args:
    entry["body"] = open(args[args.index("--body-file") + 1]).read()
with open(log, "a") as fh:
    fh.write(json.dumps(entry) + "\\n")
if os.environ.get("FAKE_GH_FAIL"):
    sys.stderr.write(os.environ["FAKE_GH_FAIL"] + "\\n")
    sys.exit(1)
if args[:2] == ["issue", "list"]:
    print(os.environ.get("FAKE_GH_ISSUES", "[]"))
"""


def failed_run(tmp_path: Path, secret: str = "") -> Path:
    run = tmp_path / "artifacts" / "citk-x-1"
    run.mkdir(parents=True)
    failure = FailedTest("tests/test_orders.py::test_total", "tests/test_orders.py", 12,
                         f"AssertionError: assert 3 == 4 {secret}\n  more detail\n")  # fmt: skip
    result = RunResult(
        "tests_failed", 1, "citk-x-1", (PhaseResult("test", "ok", 2.0),),
        tests=TestCounts(5, 1, 0, 0, (failure,), flaky=("tests/test_orders.py::test_retry",)),
        message="1 failed, 0 errors",
    )  # fmt: skip
    (run / "run.json").write_text(json.dumps(result.to_dict()))
    (run / "selection.json").write_text(json.dumps({"suite": "smoke", "shard": "2/4", "cell": None}))
    return run


def fake_gh(tmp_path: Path) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(GH.format(python=os.sys.executable))  # type: ignore[attr-defined]
    gh.chmod(gh.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_GH_LOG": str(tmp_path / "gh.log")}


def calls(tmp_path: Path) -> list[dict[str, str]]:
    log = tmp_path / "gh.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


ARGS = ["--workflow", "weekly", "--branch", "main", "--run-url", "https://github.com/o/r/actions/runs/7"]


def test_no_open_issue_creates_the_label_then_the_issue(tmp_path: Path) -> None:
    run = failed_run(tmp_path)
    env = fake_gh(tmp_path)
    done = run_cli(["report", "issue", str(run), *ARGS, "--gh", "--json"], tmp_path, env=env)
    assert done.returncode == 0, done.output
    argvs = [c["argv"] for c in calls(tmp_path)]
    assert argvs[0] == ["gh", "issue", "list", "--label", "ci-toolkit-failure", "--state", "open",
                        "--json", "number,title", "--limit", "100"]  # fmt: skip
    assert argvs[1] == ["gh", "label", "create", "ci-toolkit-failure", "--force", "--color", "d73a4a",
                        "--description", "a scheduled ci-toolkit run failed"]  # fmt: skip
    assert argvs[2][:7] == ["gh", "issue", "create", "--title", TITLE, "--label", "ci-toolkit-failure"]
    assert argvs[2][7] == "--body-file" and len(argvs) == 3
    body = calls(tmp_path)[2]["body"]
    assert "`tests/test_orders.py::test_total`: AssertionError: assert 3 == 4" in body
    assert "more detail" not in body  # the first error line only
    assert "`tests/test_orders.py::test_retry`: passed only on a rerun" in body
    assert "ci-toolkit integration-run --suite smoke --shard 2/4" in body
    assert "https://github.com/o/r/actions/runs/7#artifacts" in body
    assert json.loads(done.stdout)["action"] == "create"


def test_an_open_issue_with_the_same_title_gets_a_comment(tmp_path: Path) -> None:
    run = failed_run(tmp_path)
    issues = [
        {"number": 41, "title": "ci-toolkit: weekly failing on release"},
        {"number": 42, "title": TITLE},
    ]
    env = {**fake_gh(tmp_path), "FAKE_GH_ISSUES": json.dumps(issues)}
    done = run_cli(["report", "issue", str(run), *ARGS, "--gh"], tmp_path, env=env)
    assert done.returncode == 0, done.output
    argvs = [c["argv"] for c in calls(tmp_path)]
    assert len(argvs) == 2 and argvs[1][:4] == ["gh", "issue", "comment", "42"]
    assert "commented on issue #42" in done.stderr


def test_an_open_issue_of_another_branch_is_not_reused(tmp_path: Path) -> None:
    run = failed_run(tmp_path)
    env = {
        **fake_gh(tmp_path),
        "FAKE_GH_ISSUES": json.dumps([{"number": 41, "title": "ci-toolkit: weekly failing on dev"}]),
    }
    done = run_cli(["report", "issue", str(run), *ARGS, "--gh"], tmp_path, env=env)
    assert done.returncode == 0, done.output
    assert calls(tmp_path)[-1]["argv"][:3] == ["gh", "issue", "create"]


def test_gh_refused_is_exit_4_with_its_message_and_the_permissions_hint(tmp_path: Path) -> None:
    run = failed_run(tmp_path)
    env = {**fake_gh(tmp_path), "FAKE_GH_FAIL": "HTTP 403: Resource not accessible by integration"}
    done = run_cli(["report", "issue", str(run), *ARGS, "--gh"], tmp_path, env=env)
    assert done.returncode == 4, done.output
    assert "gh issue list failed: HTTP 403: Resource not accessible by integration" in done.stderr
    assert "permissions: issues: write" in done.stderr


def test_gh_missing_is_exit_3_and_says_where_it_comes_from(tmp_path: Path) -> None:
    run = failed_run(tmp_path)
    done = run_cli(["report", "issue", str(run), *ARGS, "--gh"], tmp_path, env={"PATH": "/nonexistent"})
    assert done.returncode == 3, done.output
    assert "gh (GitHub's CLI) is not on PATH" in done.stderr


def test_print_mode_sends_nothing_and_shows_the_body_and_both_alternatives(tmp_path: Path) -> None:
    secret = "s3cr3t-value-123"
    run = failed_run(tmp_path, secret)
    env = {**fake_gh(tmp_path), "API_TOKEN": secret}
    done = run_cli(
        ["report", "issue", str(run), *ARGS, "--body-out", str(tmp_path / "body.md")], tmp_path, env=env
    )
    assert done.returncode == 0, done.output
    assert calls(tmp_path) == []  # nothing sent
    assert done.stdout.startswith(f"# {TITLE}\n")
    assert (
        "gh issue comment N --body-file BODY_FILE" in done.stderr and "gh issue create --title" in done.stderr
    )
    assert secret not in done.output and secret not in (tmp_path / "body.md").read_text()


def test_the_title_is_stable_and_a_passed_run_opens_nothing(tmp_path: Path) -> None:
    run = failed_run(tmp_path)
    first = run_cli(["report", "issue", str(run), *ARGS, "--json"], tmp_path)
    second = run_cli(
        ["report", "issue", str(run), *ARGS[:4], "--run-url", "https://x/runs/8", "--json"], tmp_path
    )
    assert json.loads(first.stdout)["title"] == json.loads(second.stdout)["title"] == TITLE
    data = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(
        json.dumps({**data, "status": "passed", "exit_code": 0, "failed_tests": []})
    )
    env = fake_gh(tmp_path)
    passed = run_cli(["report", "issue", str(run), *ARGS, "--gh"], tmp_path, env=env)
    assert passed.returncode == 0 and "the run passed: no issue to open" in passed.stderr
    assert calls(tmp_path) == []
