"""`ci-toolkit report issue RUN_DIR [--gh]`: open one issue for a failed run, or comment on the
open one (same label, same title: one per workflow and branch).

With `--gh` it runs GitHub's CLI (on every GitHub-hosted runner; the job needs `permissions:
issues: write` and `GH_TOKEN`): `gh issue list` finds the open issue, then `gh issue comment` or
`gh label create --force` + `gh issue create`. Without it (`--print`, the default) nothing is
sent: the body goes to stdout and the commands it would run to stderr, the decision left open
(it needs the list of open issues, which only gh can fetch). GitHub's API is the one boundary
this cannot cross in tests: they run a stand-in `gh` that records its arguments.
"""

from __future__ import annotations

import json
import os
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
)
from ci_toolkit.output import cell_report
from ci_toolkit.output import issue_report as report
from ci_toolkit.redact import REDACTOR

GH_TIMEOUT = 60.0
LABEL_COLOUR = "d73a4a"
PERMISSIONS_HINT = "the job needs `permissions: issues: write` and GH_TOKEN: ${{ github.token }} in its env"


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
    REDACTOR.add_sensitive_env(env)  # a token in this job's environment never reaches the issue
    cells = [cell_report.load_cell(d) for d in cell_report.find_cells([run_dir])]
    where = report.Where(
        workflow=workflow or env.get("GITHUB_WORKFLOW") or "integration-run",
        branch=branch or env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME") or "unknown",
        run_url=run_url or _run_url(env),
    )
    if all(c.passed for c in cells):
        nothing = {"action": "none", "issue": None, "title": report.title(where), "commands": []}
        return _emit(json_mode, nothing, f"{run_dir}: the run passed: no issue to open")
    title = report.title(where)
    text = report.body(cells, where, flaky=_flaky(store, config))
    if body_out is not None:
        body_out.parent.mkdir(parents=True, exist_ok=True)
        body_out.write_text(text, encoding="utf-8")
    if not use_gh:
        commands = [
            list_command(label),
            comment_command("N", "BODY_FILE"),
            *create_commands(title, label, "BODY_FILE"),
        ]
        if not json_mode:
            sys.stdout.write(f"# {title}\n\n{text}")
            print("would run (gh issue list decides between comment and create):", file=sys.stderr)
            for argv in commands:
                print(f"  {report.command_line(argv)}", file=sys.stderr)
            return ExitCode.OK
        return _emit(
            True, {"action": "print", "issue": None, "title": title, "body": text, "commands": commands}, ""
        )
    gh = shutil.which("gh")
    if gh is None:
        raise EnvironmentInvalid(
            "gh (GitHub's CLI) is not on PATH: `report issue --gh` opens the issue with it",
            hint="it is on every GitHub-hosted runner; locally see https://cli.github.com, or leave out --gh",
        )
    with tempfile.TemporaryDirectory(prefix="ci-toolkit-issue-") as tmp:
        body_file = Path(tmp) / "body.md"
        body_file.write_text(text, encoding="utf-8")
        number = open_issue(_gh(list_command(label)), title)
        if number is not None:
            commands = [list_command(label), comment_command(str(number), str(body_file))]
            _gh(commands[-1])
            action = "comment"
        else:
            commands = [list_command(label), *create_commands(title, label, str(body_file))]
            for argv in commands[1:]:
                _gh(argv)
            action = "create"
    message = f"{'commented on issue #' + str(number) if number else 'opened an issue'}: {title}"
    return _emit(
        json_mode, {"action": action, "issue": number, "title": title, "commands": commands}, message
    )


def list_command(label: str) -> list[str]:
    return [
        "gh",
        "issue",
        "list",
        "--label",
        label,
        "--state",
        "open",
        "--json",
        "number,title",
        "--limit",
        "100",
    ]


def comment_command(number: str, body_file: str) -> list[str]:
    return ["gh", "issue", "comment", number, "--body-file", body_file]


def create_commands(title: str, label: str, body_file: str) -> list[list[str]]:
    """The label first (`--force`: made or updated, never an error), since `gh issue create
    --label` fails on a repository that lacks it."""
    return [
        ["gh", "label", "create", label, "--force", "--color", LABEL_COLOUR,
         "--description", "a scheduled ci-toolkit run failed"],
        ["gh", "issue", "create", "--title", title, "--label", label, "--body-file", body_file],
    ]  # fmt: skip


def open_issue(listed: str, title: str) -> int | None:
    """The open issue with exactly this title (the label narrowed the list), else None."""
    try:
        issues: Any = json.loads(listed or "[]")
    except ValueError:
        raise InfrastructureError(f"gh issue list did not answer JSON: {listed[:200]!r}") from None
    matches = [i for i in issues if isinstance(i, Mapping) and i.get("title") == title]
    return min(int(i["number"]) for i in matches) if matches else None


def _gh(argv: Sequence[str]) -> str:
    try:
        return proc.run(argv, timeout=GH_TIMEOUT).stdout
    except CommandError as exc:
        said = REDACTOR(exc.stderr.strip() or exc.stdout.strip())[:600]
        raise InfrastructureError(
            f"{report.command_line(argv[:3])} failed: {said}",
            hint=PERMISSIONS_HINT,
        ) from None


def _flaky(store: str | None, config: Path | None) -> list[Any]:
    """The history store's flaky tests, when a store is set; without one, this run's only."""
    from ci_toolkit.commands.history import resolve
    from ci_toolkit.history import queries

    try:
        return queries.flaky(resolve(store, config).runs())
    except HistoryError as exc:  # the store is down: the issue is still worth opening
        print(f"warning: flaky tests from the history store left out: {exc}", file=sys.stderr)
    except ConfigError:
        if store is not None or config is not None:  # asked for, and wrong: say so
            raise
    return []  # no store configured: this run's flaky tests only


def _run_url(env: Mapping[str, str]) -> str | None:
    parts = [env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    return f"{parts[0]}/{parts[1]}/actions/runs/{parts[2]}" if all(parts) else None


def _emit(json_mode: bool, data: dict[str, Any], message: str) -> int:
    if json_mode:
        emit_json(data)
    elif message:
        print(message, file=sys.stderr)
    return ExitCode.OK
