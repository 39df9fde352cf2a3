"""`report issue`'s title and body: one issue per workflow and branch for a failed run.

The title carries no date or run id, so the next failure of the same workflow on the same branch
finds the same issue (by label and exact title) and comments on it. The body: the status, each
failing test with its first error line, flaky tests (this run's, and the history store's when
one is set), the one command that reproduces the run, and links to the run and its artifacts.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.history.queries import FlakyTest
from ci_toolkit.output import markdown as md
from ci_toolkit.output.cell_report import CellResult
from ci_toolkit.output.github_summary import Invocation, cli_options, reproduce_command
from ci_toolkit.redact import REDACTOR

MAX_FAILURES = 30
MARKER = "<!-- ci-toolkit:issue workflow={workflow} branch={branch} -->"


@dataclass(frozen=True)
class Where:
    workflow: str
    branch: str
    run_url: str | None = None


def title(where: Where) -> str:
    return REDACTOR(f"ci-toolkit: {where.workflow} failing on {where.branch}")


def body(
    cells: Sequence[CellResult], where: Where, *, flaky: Sequence[FlakyTest] = (), cwd: Path | None = None
) -> str:
    failed = [c for c in cells if not c.passed]
    out = [MARKER.format(workflow=where.workflow, branch=where.branch), ""]
    run = f"[this run]({where.run_url})" if where.run_url else "this run"
    out += [f"**{where.workflow}** failed on `{where.branch}` in {run}.", ""]
    for cell in failed:
        head = f"### {md.cell(cell.name)}: {cell.status}" if len(cells) > 1 else f"### {cell.status}"
        out += [head, ""]
        if cell.message and cell.status != "tests_failed":
            out += [md.fenced(cell.message), ""]
        failures = cell.tests.failures
        for failure in failures[:MAX_FAILURES]:
            out.append(f"- {md.code(failure.id)}: {md.cell(_first_line(failure.message)) or 'failed'}")
        if len(failures) > MAX_FAILURES:
            out.append(f"- … and {len(failures) - MAX_FAILURES} more (see junit.xml in the artifacts)")
        out += [
            "",
            "Reproduce locally:",
            "",
            md.fenced(_reproduce(cell.path, cwd or Path.cwd()), lang="sh"),
            "",
        ]
    this_run = sorted({t for c in cells for t in c.tests.flaky})
    if this_run or flaky:
        out += ["### Flaky tests", ""]
        out += [f"- {md.code(t)}: passed only on a rerun in this run" for t in this_run]
        out += [f"- {md.code(f.id)}: {'; '.join(f.reasons)} (last seen {f.last_seen})" for f in flaky]
        out.append("")
    if where.run_url:
        out += [f"Logs: {where.run_url} · artifacts: {where.run_url}#artifacts", ""]
    return REDACTOR("\n".join(out).rstrip("\n") + "\n")


def _first_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


def _reproduce(run_dir: Path, cwd: Path) -> str:
    """`integration-run` with what shaped this run (selection.json: suite, matrix cell, shard...)."""
    selection = _selection(run_dir)
    choice = {k: v for k, v in selection.items() if k not in ("cell", "project")}
    options: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in choice.items()}
    inv = Invocation(cwd=cwd, root=cwd, options=cli_options(**options))
    return reproduce_command(inv, cwd)


def _selection(run_dir: Path) -> Mapping[str, Any]:
    try:
        data = json.loads((run_dir / "selection.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def command_line(argv: Sequence[str]) -> str:
    return REDACTOR(shlex.join(argv))
