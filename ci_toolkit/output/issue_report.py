"""`report issue`'s title and body: one GitHub issue per workflow and branch for a failed run.

The title carries no date and no run id, so the next failure of the same workflow on the same
branch finds the same open issue (by label and exact title) and comments on it. The body says
what failed (each cell's status, each failing test with its first error line), the flaky tests
(this run's, a soak's, the history store's), the command that reproduces each failing cell (the
job summary's own `reproduce_command`), and links to the run and its artifacts. A hidden marker
names the workflow and branch, for a search in GitHub's UI. Everything passes through REDACTOR.
"""

from __future__ import annotations

import json
import shlex
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ci_toolkit.history.queries import FlakyTest
from ci_toolkit.output import cell_report
from ci_toolkit.output import markdown as md
from ci_toolkit.output.cell_report import CellResult
from ci_toolkit.output.github_summary import Invocation, cli_options, reproduce_command
from ci_toolkit.redact import REDACTOR
from ci_toolkit.results.model import FailedTest

MAX_FAILURES = 30  # tests listed; the rest are in the artifacts' junit.xml
MAX_FLAKY = 15
MAX_COMMANDS = 10  # distinct reproduce commands (a soak's iterations all share one)
LINE_CHARS = 300
# GitHub refuses an issue or comment body over 65,536 characters: stay well under it.
MAX_BODY = 60_000
SOAK_REPORT = "soak-report.json"


@dataclass(frozen=True)
class Where:
    """Which workflow failed, on which branch and commit, and where its run's page is."""

    workflow: str
    branch: str
    run_url: str | None = None
    commit: str | None = None


def title(where: Where) -> str:
    """Stable per workflow and branch: the key the open issue is found by."""
    return REDACTOR(f"ci-toolkit: {where.workflow} failing on {where.branch}")


def marker(where: Where) -> str:
    # `--` would end the HTML comment early: a branch named `a-->b` must not show up as text.
    def safe(text: str) -> str:
        return " ".join(text.replace("--", "-\u200b-").split())

    return f"<!-- ci-toolkit:issue workflow={safe(where.workflow)} branch={safe(where.branch)} -->"


def body(
    cells: Sequence[CellResult],
    where: Where,
    *,
    history_flaky: Sequence[FlakyTest] = (),
    soak_flaky: Sequence[str] = (),
    config_path: Path | None = None,
    cwd: Path | None = None,
) -> str:
    """The issue's Markdown. `cells`: the run's results (one, or one per matrix cell / shard /
    soak iteration); none when the run failed before writing any."""
    here = cwd or Path.cwd()
    cells = _named(cells)
    failed = [c for c in cells if not c.passed]
    run = f"[run]({where.run_url})" if where.run_url else "run"
    on = f" at {md.code(where.commit[:12])}" if where.commit else ""
    out = [
        marker(where),
        "",
        f"The {md.code(where.workflow)} {run} failed on {md.code(where.branch)}{on}.",
        "",
    ]
    if not cells:
        out += ["It failed before any run wrote results (no run.json or junit.xml): see the run's log.", ""]
    elif len(cells) == 1:
        out += _status(cells[0])
    else:
        out += [
            f"{len(failed)} of {len(cells)} runs failed:",
            "",
            "| run | result | failed tests |",
            "| --- | --- | ---: |",
        ]
        out += [f"| {md.cell(c.name)} | {c.status} | {len(c.tests.failures)} |" for c in failed]
        out.append("")
    out += _failures(cells)
    out += _outside(cells) if len(cells) > 1 else []
    out += _flaky(cells, soak_flaky, history_flaky)
    out += _reproduce(failed, config_path, here)
    if where.run_url:
        out += [
            "### Links",
            "",
            f"- the run: {where.run_url}",
            f"- its artifacts: {where.run_url}#artifacts",
            "",
        ]
    return _cap(REDACTOR("\n".join(out).rstrip("\n") + "\n"))


def first_line(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[0][:LINE_CHARS] if lines else ""


def _status(cell: CellResult) -> list[str]:
    text = f"**{cell.status}**"
    if first_line(cell.message):
        text += f": {md.cell(first_line(cell.message))}"
    tests = [f"Tests: {cell.tests.describe()}", ""] if cell.tests.total else []  # none ran: no line
    return [text, "", *tests]


def _failures(cells: Sequence[CellResult]) -> list[str]:
    """Each failing test once, with the cells it failed in and its first error line."""
    failing = cell_report.failed_tests(cells)
    if not failing:
        return []
    first: dict[str, FailedTest] = {}
    for cell in cells:
        for failure in cell.tests.failures:
            first.setdefault(failure.id, failure)
    several = len(cells) > 1
    out = ["### Failing tests", ""]
    for test_id, names in list(failing.items())[:MAX_FAILURES]:
        where = f" ({', '.join(map(md.cell, names))})" if several else ""
        line = first_line(first[test_id].message) or "failed"
        out.append(f"- {md.code(test_id)}{where}: {md.code(line)}")
    if len(failing) > MAX_FAILURES:
        out.append(f"- … and {len(failing) - MAX_FAILURES} more (junit.xml in the artifacts)")
    return [*out, ""]


def _outside(cells: Sequence[CellResult]) -> list[str]:
    """Cells that failed with no failing test: infrastructure, migrations, a timeout."""
    bad = [c for c in cells if not c.passed and not c.tests.failures]
    if not bad:
        return []
    out = ["### Failed outside the tests", ""]
    out += [
        f"- **{md.cell(c.name)}**: {c.status}: {md.cell(first_line(c.message) or 'no message')}" for c in bad
    ]
    return [*out, ""]


def _flaky(cells: Sequence[CellResult], soak: Sequence[str], history: Sequence[FlakyTest]) -> list[str]:
    """Each flaky test once, with every reason seen: this run's reruns, the soak, the store."""
    why: dict[str, list[str]] = {}
    for test in cell_report.flaky_tests(cells):
        why.setdefault(test, []).append("passed only on a rerun in this run")
    for test in soak:
        why.setdefault(test, []).append("failed in some iterations of this soak, passed in others")
    for f in history:
        why.setdefault(f.id, []).append(f"{'; '.join(f.reasons)} ({f.failed} of {f.runs} recent runs failed)")
    if not why:
        return []
    out = ["### Flaky tests", ""]
    out += [
        f"- {md.code(test)}: {md.cell('; '.join(reasons))}" for test, reasons in list(why.items())[:MAX_FLAKY]
    ]
    if len(why) > MAX_FLAKY:
        out.append(f"- … and {len(why) - MAX_FLAKY} more (`ci-toolkit history flaky`)")
    return [*out, ""]


def _reproduce(failed: Sequence[CellResult], config_path: Path | None, cwd: Path) -> list[str]:
    """One command per distinct failing cell, as the job summary prints it."""
    commands: dict[str, list[str]] = {}
    for cell in failed:
        commands.setdefault(reproduce(cell.path, config_path, cwd), []).append(cell.name)
    if not commands:
        return []
    out = ["### Reproduce locally", ""]
    for command, names in list(commands.items())[:MAX_COMMANDS]:
        if len(commands) > 1:
            out += [f"{', '.join(map(md.cell, names))}:", ""]
        out += [md.fenced(command, lang="sh"), ""]
    # The artifacts hold the options, not the environment: the summary has both.
    return [*out, "The failing job's summary has it with the environment variables the run depended on.", ""]


def reproduce(run_dir: Path, config_path: Path | None, cwd: Path) -> str:
    """`integration-run` with what shaped this run: the options its selection.json recorded
    (suite, matrix cell, workers, test timeout, shard, services)."""
    selection = _selection(run_dir)
    options: dict[str, Any] = {}
    for key in ("suite", "matrix_entry", "workers", "test_timeout", "shard", "services"):
        value = selection.get(key)
        if isinstance(value, list):
            value = tuple(str(v) for v in value)
        elif key == "matrix_entry" and isinstance(value, str):
            value = _compact(value)
        options[key] = value
    inv = Invocation(cwd=cwd, root=cwd, config_path=config_path, options=cli_options(**options))
    return reproduce_command(inv, cwd)


def soak_flaky(run_dir: Path) -> list[str]:
    """The tests a soak's report (soak-report.json, anywhere below) found failing in some
    iterations and passing in others."""
    found: dict[str, None] = {}
    for path in sorted(run_dir.rglob(SOAK_REPORT)):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for entry in data.get("flaky_tests") or () if isinstance(data, dict) else ():
            if isinstance(entry, dict) and entry.get("id"):
                found[str(entry["id"])] = None
    return list(found)


def command_line(argv: Sequence[str]) -> str:
    return REDACTOR(shlex.join(argv))


def _named(cells: Sequence[CellResult]) -> list[CellResult]:
    """Cells whose names collide (a soak's iterations on one reused stack share its project)
    are told apart by their directory."""
    seen = Counter(c.name for c in cells)
    return [replace(c, name=f"{c.name}/{c.path.name}") if seen[c.name] > 1 else c for c in cells]


def _compact(entry: str) -> str:
    """`toJSON(matrix)` is pretty-printed over lines: one line in a command."""
    try:
        return json.dumps(json.loads(entry), separators=(",", ":"))
    except ValueError:
        return entry


def _selection(run_dir: Path) -> Mapping[str, Any]:
    try:
        data = json.loads((run_dir / "selection.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _cap(text: str) -> str:
    if len(text) <= MAX_BODY:
        return text
    return text[:MAX_BODY].rsplit("\n", 1)[0] + "\n\n… (cut: GitHub takes 65,536 characters; see the run)\n"
