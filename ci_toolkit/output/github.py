"""GitHub Actions, all of it: workflow commands, the job summary and step outputs.

The one module that knows the runner's syntax and files; everyone else asks it. On when
`GITHUB_ACTIONS=true`, or forced with `--github` / `--no-github`. It adds:

- `::add-mask::` for each secret the moment it is known (`add_mask`, from `secret_store`);
- `::group::` … `::endgroup::` around each phase and `::stop-commands::` fences around
  foreign text (`github_log.GitHubReporter`), so no container or test can issue a workflow
  command;
- `::error file=…,line=…::` for each failed test and for config/migration errors;
- Markdown sections appended to `$GITHUB_STEP_SUMMARY` (`append_step_summary`, the only
  writer of that file): the run's summary, ending with the one command that repeats it on
  the same checkout (`github_summary`), the `report merge` table and the soak report;
- step outputs in `$GITHUB_OUTPUT`. `$GITHUB_ENV` is never written.

Text is redacted (`REDACTOR`) first, then escaped for the workflow-command syntax.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ci_toolkit.output.github_summary import Invocation, relative_to, summary_markdown, trim
from ci_toolkit.redact import REDACTOR
from ci_toolkit.results.model import RunResult

MAX_ANNOTATIONS = 10  # GitHub shows at most 10 error annotations per step


def enabled(flag: bool | None = None, environ: Mapping[str, str] | None = None) -> bool:
    if flag is not None:
        return flag
    return (os.environ if environ is None else environ).get("GITHUB_ACTIONS", "").lower() == "true"


# -- workflow commands ---------------------------------------------------------------------


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str = "", **properties: str | int | None) -> str:
    """`::name key=value,…::message`, redacted and escaped."""
    props = ",".join(
        f"{key}={escape_property(REDACTOR(str(value)))}"
        for key, value in properties.items()
        if value is not None and value != ""
    )
    return f"::{name}{' ' + props if props else ''}::{escape_data(REDACTOR(message))}"


def add_mask(value: str, stream: IO[str], environ: Mapping[str, str] | None = None) -> None:
    """In GitHub Actions, tell the runner to mask `value` in the log, straight to `stream`.

    Not through `command`: REDACTOR already knows the value and would print `***` instead.
    The runner masks line by line, so a multi-line value is announced one line at a time."""
    if not enabled(environ=environ):
        return
    lines = [line.strip() for line in value.splitlines() if line.strip()]
    for part in lines if len(lines) > 1 else [value]:
        stream.write(f"::add-mask::{escape_data(part)}\n")
    stream.flush()


# -- annotations --------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    file: str
    line: int | None
    text: str


_FILE_PROBLEM = re.compile(r"^\s*(?:- )?(?P<file>[^\s:]+\.(?:toml|sql|ya?ml|json)): (?P<rest>.+)$")
_SQL_FILE = re.compile(r"\((?P<file>[^()\s,]+\.sql)(?:, line (?P<line>\d+))?\)")
_KEY = re.compile(r"^(?P<key>[\w.\-]+): ")


def error_locations(message: str) -> list[Location]:
    """Files (and lines) named by a config or migration error message."""
    found: list[Location] = []
    for raw in message.splitlines():
        if match := _FILE_PROBLEM.match(raw):
            line = None
            key = _KEY.match(match["rest"])
            if key and match["file"].endswith(".toml"):
                line = toml_key_line(Path(match["file"]), key["key"])
            found.append(Location(match["file"], line, raw.strip().removeprefix("- ")))
        elif match := _SQL_FILE.search(raw):
            found.append(Location(match["file"], int(match["line"]) if match["line"] else None, raw.strip()))
    return found


def toml_key_line(path: Path, dotted: str) -> int | None:
    """The line defining `dotted` (or its closest enclosing table/key) in a TOML file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    want = dotted.split(".")
    table: list[str] = []
    best, best_depth = None, 0
    for number, text in enumerate(lines, 1):
        stripped = text.strip()
        if header := re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", stripped):
            table = _key_parts(header[1])
            keys = table
        elif assignment := re.match(r"^([\w\-\"'. ]+?)\s*=", stripped):
            keys = table + _key_parts(assignment[1])
        else:
            continue
        if keys == want[: len(keys)] and len(keys) > best_depth:
            best, best_depth = number, len(keys)
    return best


def _key_parts(key: str) -> list[str]:
    return [part.strip().strip("\"'") for part in key.split(".")]


def annotation_lines(result: RunResult, inv: Invocation, workspace: Path) -> list[str]:
    lines: list[str] = []
    failures = result.tests.failures
    shown = failures if len(failures) <= MAX_ANNOTATIONS else failures[: MAX_ANNOTATIONS - 1]
    for failure in shown:
        file = relative_to(inv.root / failure.file, workspace) if failure.file else None
        lines.append(
            command(
                "error", trim(failure.message), file=file, line=failure.line, title=f"FAILED {failure.id}"
            )
        )
    if len(shown) < len(failures):
        more = len(failures) - len(shown)
        lines.append(command("error", f"{more} more failed tests: see the job summary", title="ci-toolkit"))
    if result.status in ("passed",) or (failures and result.status == "tests_failed"):
        return lines
    title = f"ci-toolkit: {result.status}"
    locations = error_locations(result.message)
    if result.status == "coverage_below_threshold" and inv.config_source is not None:
        prefix = "tool.ci-toolkit." if inv.config_source.name == "pyproject.toml" else ""
        line = toml_key_line(inv.config_source, f"{prefix}pytest.fail_under")
        locations = [Location(str(inv.config_source), line, result.message)]
    if len(locations) == 1:
        locations = [Location(locations[0].file, locations[0].line, result.message)]
    for loc in locations[:MAX_ANNOTATIONS]:
        lines.append(
            command(
                "error", loc.text, file=relative_to(Path(loc.file), workspace), line=loc.line, title=title
            )
        )
    if not locations:
        lines.append(command("error", result.message or result.status, title=title))
    return lines


# -- job summary and step outputs -------------------------------------------------------------


def outputs(result: RunResult) -> dict[str, str]:
    t = result.tests
    return {
        "status": result.status,
        "exit-code": str(result.exit_code),
        "tests-passed": str(t.passed),
        "tests-failed": str(t.failed + t.errors),
        "coverage": "" if result.coverage_percent is None else f"{result.coverage_percent:.1f}",
        "artifacts-dir": result.artifacts_dir or "",
        "project": result.project or "",
    }


def write_outputs(path: Path, values: Mapping[str, str]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for name, raw in values.items():
            value = REDACTOR(raw)
            if "\n" in value or "\r" in value:
                delimiter = f"ghadelimiter_{uuid.uuid4()}"
                fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
            else:
                fh.write(f"{name}={value}\n")


def append_step_summary(markdown: str, environ: Mapping[str, str] | None = None) -> None:
    """Append a Markdown section to the job summary, redacted; nothing outside a job.

    Each section ends with a blank line, so the next one (ours or a later step's) starts a new
    block instead of running on into our last paragraph. OSError is the caller's to handle."""
    target = (os.environ if environ is None else environ).get("GITHUB_STEP_SUMMARY")
    if target:
        with Path(target).open("a", encoding="utf-8") as fh:
            fh.write(REDACTOR(markdown).rstrip("\n") + "\n\n")


def started(project: str, environ: Mapping[str, str] | None = None) -> None:
    """Record the project name at once, so a cleanup step finds the stack even after a crash."""
    target = (os.environ if environ is None else environ).get("GITHUB_OUTPUT")
    if target:
        with contextlib.suppress(OSError):  # `publish` tries again at the end, and warns
            write_outputs(Path(target), {"project": project})


def publish(
    result: RunResult, inv: Invocation, stream: IO[str], environ: Mapping[str, str] | None = None
) -> None:
    """Annotations on `stream`; the summary and outputs into the files the runner gave us.

    A file that cannot be written is a warning: it never changes the run's own outcome."""
    environ = os.environ if environ is None else environ
    workspace = Path(environ.get("GITHUB_WORKSPACE") or inv.cwd)
    lines = annotation_lines(result, inv, workspace)
    try:
        append_step_summary(summary_markdown(result, inv, workspace, environ.get("GITHUB_SHA", "")), environ)
        if target := environ.get("GITHUB_OUTPUT"):
            write_outputs(Path(target), outputs(result))
    except OSError as exc:
        lines.append(command("warning", f"could not write the job summary or step outputs: {exc}"))
    for line in lines:
        stream.write(line + "\n")
    stream.flush()
