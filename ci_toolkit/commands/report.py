"""`ci-toolkit report merge DIR...`: one Markdown summary for all matrix cells."""

from __future__ import annotations

import sys
from pathlib import Path

from ci_toolkit.commands.common import emit_json
from ci_toolkit.errors import ExitCode
from ci_toolkit.output import cell_report as report
from ci_toolkit.output import github
from ci_toolkit.redact import REDACTOR


def merge(dirs: tuple[Path, ...], *, output: Path | None = None, json_mode: bool = False) -> int:
    cells = [report.load_cell(d) for d in report.find_cells(dirs)]
    text = REDACTOR(report.render_markdown(cells))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
    github.append_step_summary(text)
    if json_mode:
        failed = report.failed_tests(cells)
        emit_json({"cells": [c.to_dict() for c in cells], "failed_tests": failed})
    else:
        sys.stdout.write(text)
    return ExitCode.OK if all(c.passed for c in cells) else ExitCode.TESTS_FAILED
