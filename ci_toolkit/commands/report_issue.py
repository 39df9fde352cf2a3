"""`ci-toolkit report issue RUN_DIR [--gh]`: one GitHub issue per workflow and branch for a failed
run; the next failure comments on it while it is open.

With `--gh` it runs GitHub's CLI (on every GitHub-hosted runner; the job needs `permissions:
issues: write` and GH_TOKEN): `gh issue list --label L` finds the open issue whose title is
exactly the stable title, then `gh issue comment N`, else `gh issue create` (after `gh label
create --force` when no open issue has the label: `issue create --label` fails on a repository
that lacks it). Without `--gh` (`--print`, the default) nothing is sent and gh is not needed: the
body goes to stdout, the commands to stderr, and the decision stays open, since only gh can list
the open issues. GitHub's API is the boundary tests do not cross: they put a stand-in `gh` on
PATH that records its argv and answers `issue list` with canned JSON.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ci_toolkit import proc
from ci_toolkit.commands.common import emit_json
from ci_toolkit.errors import (
    CommandError,
    ConfigError,
    EnvironmentInvalid,
    ExitCode,
    HistoryError,
    InfrastructureError,
    UsageError,
)
from ci_toolkit.history.queries import FlakyTest
from ci_toolkit.output import cell_report
from ci_toolkit.output import issue_report as report
from ci_toolkit.redact import REDACTOR

GH_TIMEOUT = 60.0
LIST_LIMIT = "100"
LABEL_COLOUR = "d73a4a"
LABEL_DESCRIPTION = "a scheduled ci-toolkit run failed"
PERMISSIONS_HINT = (
    "in a workflow the job needs `permissions: issues: write` and `GH_TOKEN: ${{ github.token }}` "
    "in the step's env; locally, `gh auth login`"
)
INSTALL_HINT = (
    "gh is on every GitHub-hosted runner; elsewhere install it (https://cli.github.com: "
    "`apt install gh`, `brew install gh`) and `gh auth login`, or leave out --gh to print the body"
)
# What gh says when the token is missing, wrong, or may not write issues (gh exits 4 for "auth
# required"); anything else (HTTP 5xx, no network) is GitHub's side.
AUTH = re.compile(r"HTTP 40[13]|Resource not accessible|Bad credentials|gh auth login|GH_TOKEN", re.I)


def issue(
    run_dir: Path,
    *,
    workflow: str | None,
    branch: str | None,
    run_url: str | None,
    label: str,
    body_out: Path | None,
    use_gh: bool,
    store: str | None,
    config: Path | None,
    json_mode: bool,
) -> int:
    env = os.environ
    REDACTOR.add_sensitive_env(env)  # GH_TOKEN and any other token in this job never reach the issue
    cells = _cells(run_dir)
    where = _where(workflow, branch, run_url, env, use_gh)
    title = report.title(where)
    if cells and all(c.passed for c in cells):
        return _done(json_mode, {"action": "none", "issue": None, "title": title, "commands": []},
                     f"{run_dir}: the run passed; no issue to open or comment on")  # fmt: skip
    text = report.body(
        cells,
        where,
        history_flaky=_history_flaky(store, config),
        soak_flaky=report.soak_flaky(run_dir),
        config_path=config,
    )
    if body_out is not None:
        from ci_toolkit.commands.history import write_output

        write_output(body_out, text, "the issue body (--body-out)")
    if not use_gh:
        return _print(title, text, label, body_out, json_mode)
    if shutil.which("gh") is None:
        raise EnvironmentInvalid(
            "gh (GitHub's CLI) is not on PATH; `report issue --gh` needs it", hint=INSTALL_HINT
        )
    with tempfile.TemporaryDirectory(prefix="ci-toolkit-issue-") as tmp:
        body_file = body_out or Path(tmp) / "issue-body.md"
        if body_out is None:
            body_file.write_text(text, encoding="utf-8")
        listed = parse_list(run_gh(list_command(label)))
        number = open_issue(listed, title)
        if number is not None:
            then = [comment_command(str(number), str(body_file))]
        else:
            then = create_commands(title, label, str(body_file), label_exists=bool(listed))
        said = [run_gh(argv) for argv in then]
    url = (said[-1].strip().splitlines() or [""])[-1]  # gh prints the issue's (comment's) URL
    action = "create" if number is None else "comment"
    number = _number(url) if number is None else number
    data = {"action": action, "issue": number, "title": title, "commands": [list_command(label), *then]}
    done = f"commented on issue #{number}" if action == "comment" else f"opened issue #{number or '?'}"
    return _done(json_mode, {**data, "url": url or None}, f"{done}: {title}" + (f"\n{url}" if url else ""))


def list_command(label: str) -> list[str]:
    return ["gh", "issue", "list", "--label", label, "--state", "open", "--json", "number,title",
            "--limit", LIST_LIMIT]  # fmt: skip


def comment_command(number: str, body_file: str) -> list[str]:
    return ["gh", "issue", "comment", number, "--body-file", body_file]


def create_commands(title: str, label: str, body_file: str, *, label_exists: bool) -> list[list[str]]:
    """`gh issue create --label L` fails on a repository without L: made first (`--force`: no
    error if it exists) unless an open issue already carries it."""
    create = ["gh", "issue", "create", "--title", title, "--label", label, "--body-file", body_file]
    if label_exists:
        return [create]
    made = ["gh", "label", "create", label, "--force", "--color", LABEL_COLOUR, "--description",
            LABEL_DESCRIPTION]  # fmt: skip
    return [made, create]


def parse_list(listed: str) -> list[Mapping[str, Any]]:
    """`gh issue list --json number,title`'s answer: a JSON array of objects."""
    try:
        data: Any = json.loads(listed or "[]")
    except ValueError:
        data = None
    if not isinstance(data, list):
        raise InfrastructureError(f"`gh issue list` did not answer a JSON array: {REDACTOR(listed[:200])!r}")
    return [i for i in data if isinstance(i, Mapping) and isinstance(i.get("number"), int)]


def open_issue(issues: Sequence[Mapping[str, Any]], title: str) -> int | None:
    """The open issue titled exactly `title` (the oldest, should there be several), else None:
    an open issue of another branch or workflow carries the label too, not the title."""
    matches = [int(i["number"]) for i in issues if i.get("title") == title]
    return min(matches) if matches else None


def run_gh(argv: Sequence[str]) -> str:
    """gh's stdout; its failure as an error that quotes gh (redacted) and says what to check."""
    try:
        return proc.run(argv, env={"GH_PROMPT_DISABLED": "1"}, timeout=GH_TIMEOUT).stdout
    except CommandError as exc:
        if exc.returncode == 127:
            raise EnvironmentInvalid("gh (GitHub's CLI) is not on PATH", hint=INSTALL_HINT) from None
        said = REDACTOR((exc.stderr or "").strip() or (exc.stdout or "").strip() or "no output")
        quoted = "\n".join(f"    {line}" for line in said.splitlines()[-15:])
        ended = "timed out" if exc.returncode is None else f"failed with exit code {exc.returncode}"
        message = f"`{report.command_line(argv[:3])}` {ended}:\n{quoted}"
        if exc.returncode == 4 or AUTH.search(said):
            raise EnvironmentInvalid(message, hint=PERMISSIONS_HINT) from None
        raise InfrastructureError(message, hint="GitHub did not take it; re-run the job") from None


def _print(title: str, text: str, label: str, body_out: Path | None, json_mode: bool) -> int:
    """Nothing sent: the body, and what --gh would run (which of the two depends on the open issues)."""
    body_file = str(body_out) if body_out is not None else "BODY.md"
    listing = list_command(label)
    comment = comment_command("NUMBER", body_file)
    create = create_commands(title, label, body_file, label_exists=False)
    if json_mode:
        emit_json({"action": None, "issue": None, "title": title, "commands": [listing],
                   "then": {"comment": comment, "create": create}, "body": text})  # fmt: skip
        return ExitCode.OK
    sys.stdout.write(text)
    lines = [
        f"title: {title}",
        "not sent (--print); with --gh this runs:",
        f"  {report.command_line(listing)}",
        "then, if an open issue is titled exactly as above (NUMBER):",
        f"  {report.command_line(comment)}",
        "else (`gh label create` only when no open issue has the label):",
        *(f"  {report.command_line(argv)}" for argv in create),
    ]
    if body_out is None:
        lines.append("BODY.md: the body printed above (--body-out FILE writes it)")
    print("\n".join(lines), file=sys.stderr)
    return ExitCode.OK


def _cells(run_dir: Path) -> list[cell_report.CellResult]:
    """The run's results: one run dir, a merged one, or a directory of cells (as download-artifact
    fills it). A directory with none is a run that failed before writing any: still reported."""
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such directory", hint="pass the failed run's artifacts dir")
    if not any(next(run_dir.rglob(marker), None) for marker in cell_report.MARKERS):
        return []
    return [cell_report.load_cell(d) for d in cell_report.find_cells([run_dir])]


def _where(
    workflow: str | None, branch: str | None, run_url: str | None, env: Mapping[str, str], use_gh: bool
) -> report.Where:
    workflow = workflow or env.get("GITHUB_WORKFLOW")
    # A pull request's GITHUB_REF_NAME is `N/merge`; its branch is GITHUB_HEAD_REF.
    branch = branch or env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME")
    if use_gh and not (workflow and branch):
        missing = " and ".join(n for n, v in (("--workflow", workflow), ("--branch", branch)) if not v)
        raise UsageError(
            f"report issue --gh: {missing} not given (and not in GitHub Actions): the issue's title needs it",
            hint="the title is `ci-toolkit: WORKFLOW failing on BRANCH`, one issue per pair",
        )
    return report.Where(
        workflow=workflow or "WORKFLOW",
        branch=branch or "BRANCH",
        run_url=run_url or _run_url(env),
        commit=env.get("GITHUB_SHA") or None,
    )


def _history_flaky(store: str | None, config: Path | None) -> list[FlakyTest]:
    """The history store's flaky tests when one is set (--store, [history] store); none else."""
    from ci_toolkit.commands.history import resolve
    from ci_toolkit.history import queries

    try:
        return queries.flaky(resolve(store, config).runs())
    except HistoryError as exc:  # the store is down: the issue is worth opening all the same
        print(f"warning: the history store's flaky tests are left out: {exc}", file=sys.stderr)
    except ConfigError:
        if store is not None:  # asked for, and wrong: say so
            raise
    return []


def _run_url(env: Mapping[str, str]) -> str | None:
    server, repo, run = (env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


def _number(url: str) -> int | None:
    match = re.search(r"/issues/(\d+)", url)
    return int(match.group(1)) if match else None


def _done(json_mode: bool, data: dict[str, Any], message: str) -> int:
    if json_mode:
        emit_json(data)
    else:
        sys.stdout.write(REDACTOR(message) + "\n")
    return ExitCode.OK
