"""`report merge`: several runs' results (one per matrix cell) as one Markdown summary.

Each cell is a run's artifacts dir: `junit.xml` (the tests), `run.json` (the run's status,
also when it failed before any test ran) and, for a matrix cell, `selection.json` (its
name). A directory without those is searched for them, so the directory that
`actions/download-artifact` fills with one sub-directory per cell works as is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.errors import UsageError
from ci_toolkit.output import markdown as md
from ci_toolkit.results.junit import read_junit
from ci_toolkit.results.model import EXTRA, FailedTest, TestCounts
from ci_toolkit.results.progress import RECORD_FILE

MARKERS = ("run.json", "junit.xml")


@dataclass(frozen=True)
class CellResult:
    name: str
    path: Path
    status: str  # a run status (passed, tests_failed, infra_error, ...) or "no_results"
    tests: TestCounts
    seconds: float | None = None
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "status": self.status,
            "tests": self.tests.to_dict(),
            "failed_tests": [f.to_dict() for f in self.tests.failures],
            "flaky_tests": list(self.tests.flaky),
            "seconds": self.seconds,
            "message": self.message,
        }


def find_cells(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            raise UsageError(f"{path}: no such directory", hint="pass the cells' artifacts directories")
        if any((path / m).is_file() for m in MARKERS):
            found.append(path)
            continue
        nested = sorted({p.parent for m in MARKERS for p in path.rglob(m)})
        if not nested:
            raise UsageError(f"{path}: holds no run results (no run.json or junit.xml in it or below)")
        found += nested
    return list(dict.fromkeys(found))


def load_cell(path: Path) -> CellResult:
    run = _read_json(path / "run.json")
    selection = _read_json(path / "selection.json")
    cell = (selection or {}).get("cell") or {}
    name = cell.get("name") or (run or {}).get("project") or path.name
    junit = path / "junit.xml"
    if junit.is_file():
        tests = read_junit(junit, record=path / RECORD_FILE)  # the plugin's record, when uploaded too
    elif run is not None:
        tests = _tests_from_run(run)
    else:
        tests = TestCounts()
    if run is not None:
        status = str(run.get("status", "unknown"))
        seconds = sum(float(p.get("seconds", 0)) for p in run.get("phases", ()))
        message = str(run.get("message") or "")
    elif junit.is_file():
        status = "tests_failed" if tests.failed or tests.errors else "passed"
        seconds, message = None, "no run.json: status taken from junit.xml"
    else:  # pragma: no cover - find_cells only returns dirs holding one of the two
        status, seconds, message = "no_results", None, ""
    return CellResult(name, path, status, tests, seconds, message)


def _tests_from_run(run: dict[str, Any]) -> TestCounts:
    t = run.get("tests") or {}
    failures = tuple(
        FailedTest(f.get("id", "?"), f.get("file"), f.get("line"), f.get("message", ""))
        for f in run.get("failed_tests") or ()
    )
    return TestCounts.from_dict(t, failures, run.get("flaky_tests"))


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not readable JSON: {exc}") from None
    return data if isinstance(data, dict) else None


def failed_tests(cells: Sequence[CellResult]) -> dict[str, list[str]]:
    """Test id -> the cells it failed (or errored) in, in cell order."""
    out: dict[str, list[str]] = {}
    for cell in cells:
        for failure in cell.tests.failures:
            out.setdefault(failure.id, []).append(cell.name)
    return dict(sorted(out.items()))


def flaky_tests(cells: Sequence[CellResult]) -> dict[str, list[str]]:
    """Test id -> the cells it passed only on a rerun in, in cell order."""
    out: dict[str, list[str]] = {}
    for cell in cells:
        for test in cell.tests.flaky:
            out.setdefault(test, []).append(cell.name)
    return dict(sorted(out.items()))


def totals(cells: Sequence[CellResult]) -> TestCounts:
    """pytest's categories summed over the cells; flaky: each test once."""
    keys = ("passed", "failed", "errors", "skipped", *EXTRA)
    sums = {k: sum(getattr(c.tests, k) for c in cells) for k in keys}
    return TestCounts(**sums, flaky=tuple(flaky_tests(cells)))


def render_markdown(cells: Sequence[CellResult]) -> str:
    bad = [c for c in cells if not c.passed]
    extra = [k for k in EXTRA if any(getattr(c.tests, k) for c in cells)]  # pytest's, when any cell has one
    lines = [
        f"## Integration matrix: {len(cells) - len(bad)} of {len(cells)} cells passed",
        "",
        f"| cell | result | passed | failed | errors | skipped |{''.join(f' {k} |' for k in extra)} time |",
        f"| --- | --- | ---: | ---: | ---: | ---: |{' ---: |' * len(extra)} ---: |",
    ]
    for c in cells:
        mark = "✅" if c.passed else "❌"
        took = f"{c.seconds:.1f}s" if c.seconds is not None else ""
        t = c.tests
        counts = " | ".join(str(getattr(t, k)) for k in ("passed", "failed", "errors", "skipped", *extra))
        lines.append(f"| {_text(c.name)} | {mark} {c.status} | {counts} | {took} |")
    flaky = flaky_tests(cells)
    if flaky:
        lines += ["", "### Flaky tests (passed only on a rerun)", "", "| test | flaky in |", "| --- | --- |"]
        lines += [f"| {md.code(test)} | {', '.join(map(_text, names))} |" for test, names in flaky.items()]
    failing = failed_tests(cells)
    if failing:
        lines += ["", "### Failed tests", "", "| test | failed in |", "| --- | --- |"]
        lines += [f"| {md.code(test)} | {', '.join(map(_text, names))} |" for test, names in failing.items()]
        lines += ["", "<details><summary>failure messages</summary>", ""]
        for c in cells:
            for f in c.tests.failures:
                first = f.message.strip().splitlines()[0] if f.message.strip() else ""
                lines.append(f"- **{_text(c.name)}** {md.code(f.id)}: {_text(first[:300])}")
        lines += ["", "</details>"]
    outside = [c for c in bad if not c.tests.failures]
    if outside:
        lines += ["", "### Cells that failed outside the tests", ""]
        for c in outside:
            first = c.message.strip().splitlines()[0] if c.message.strip() else "no message"
            lines.append(f"- **{_text(c.name)}**: {c.status}: {_text(first[:300])}")
    return "\n".join(lines) + "\n"


def _text(text: str) -> str:
    return md.cell(text, escape_html=False)  # this report has always printed `<`, `>`, `&` as written
