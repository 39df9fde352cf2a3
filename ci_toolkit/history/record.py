"""A finished run's artifacts dir -> one RunRecord, and the files a store keeps beside it.

Read from what the run wrote: run.json (status, counts, coverage, phases, shard, failures),
progress.tsv (each test's outcomes, reruns), phases.tsv (setup/call/teardown seconds), junit.xml
(outcomes, times and messages when the others are missing), selection.json (the matrix cell and
suite). The run's id is the one run.json carries (history.identity); where it ran comes from the
arguments, else GitHub's variables, else git (history.origin). Every text in the record passes
through the redactor: a store is read by anyone.
"""

from __future__ import annotations

import contextlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ci_toolkit.errors import HistoryError
from ci_toolkit.history import identity, origin
from ci_toolkit.history.model import RunRecord, TestResult
from ci_toolkit.redact import REDACTOR
from ci_toolkit.results.junit import case_id, read_coverage, teardown_error
from ci_toolkit.results.progress import RECORD_FILE
from ci_toolkit.shard.ledger import PHASES_FILE, read_phases

RESULT_FILE = identity.RESULT_FILE
SELECTION_FILE = "selection.json"  # pipeline.selection.FILE_NAME (a layer above: not imported)
KEPT_FILES = ("run.json", "junit.xml", "coverage.xml")  # kept beside the record, compressed
FAILING = ("failed", "error")


def build(
    run_dir: Path, env: Mapping[str, str], *, commit: str | None = None, branch: str | None = None
) -> tuple[RunRecord, dict[str, bytes]]:
    """The run in `run_dir` as a record, and its files (name -> bytes) for the store."""
    result = _read_result(run_dir)
    REDACTOR.add_sensitive_env(env)  # a token in a failure message is masked as in the run's own output
    selection = _json_file(run_dir / SELECTION_FILE) or {}
    project = _text(result.get("project")) or _text(selection.get("project")) or run_dir.resolve().name
    run_id, finished_at = identity.of_run(run_dir, result, project)
    cell = selection.get("cell")
    cell_data: dict[str, Any] = cell if isinstance(cell, dict) else {}
    where = origin.where(env, commit, branch)
    record = RunRecord(
        run_id=run_id,
        finished_at=finished_at,
        status=_text(result.get("status")) or "unknown",
        exit_code=_int(result.get("exit_code")),
        counts={str(k): _int(v) for k, v in (result.get("tests") or {}).items()},
        coverage_percent=_coverage(run_dir, result),
        phases=_phases(result),
        tests=_tests(run_dir, result),
        commit=where.commit,
        branch=where.branch,
        workflow=where.workflow,
        run_url=where.run_url,
        cell=_safe(_text(cell_data.get("name"))),
        shard=_shard(result.get("shard")),
        suite=_safe(_text(selection.get("suite")) or _text(cell_data.get("suite"))),
        project=_safe(project),
    )
    return record, _files(run_dir)


def _read_result(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RESULT_FILE
    data = _json_file(path)
    if data is None:
        what = "does not exist" if not run_dir.exists() else f"has no {RESULT_FILE}"
        if path.is_file():
            what = f"has a {RESULT_FILE} that is not a run's result (not a JSON object)"
        raise HistoryError(
            f"{run_dir} {what}: it is not a finished run's artifacts dir",
            hint="pass the dir a run wrote (ci-artifacts/<project>, the `artifacts:` line of its "
            "output), which holds run.json",
        )
    return data


def _json_file(path: Path) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None
    return None


def _phases(result: Mapping[str, Any]) -> dict[str, float]:
    phases: dict[str, float] = {}
    for phase in result.get("phases") or ():
        if isinstance(phase, dict) and phase.get("name"):
            phases[str(phase["name"])] = _float(phase.get("seconds"))
    return phases


def _coverage(run_dir: Path, result: Mapping[str, Any]) -> float | None:
    if "coverage_percent" in result:
        value = result["coverage_percent"]
        return None if value is None else _float(value)
    try:
        return read_coverage(run_dir / "coverage.xml")  # a run.json from before coverage was kept
    except (ET.ParseError, ValueError):
        return None


def _shard(shard: Any) -> str | None:
    if isinstance(shard, dict) and shard.get("index") is not None and shard.get("count") is not None:
        return f"{_int(shard['index'])}/{_int(shard['count'])}"
    return None


class _Tests:
    """Per test, in the order pytest reported them: outcomes of the last attempt, whether it was
    rerun, its seconds, its failure message."""

    def __init__(self) -> None:
        self.outcomes: dict[str, list[str]] = {}
        self.reran: set[str] = set()
        self.messages: dict[str, str] = {}
        self.junit_seconds: dict[str, float] = {}

    def add(self, test_id: str, outcome: str) -> None:
        if outcome == "rerun":
            self.reran.add(test_id)
            self.outcomes[test_id] = []  # a new attempt follows
        else:
            self.outcomes.setdefault(test_id, []).append(outcome)

    def final(self, test_id: str) -> str:
        seen = self.outcomes.get(test_id) or ["error"]  # rerun lines and then nothing: it died
        return next((bad for bad in FAILING if bad in seen), seen[-1])


def _tests(run_dir: Path, result: Mapping[str, Any]) -> tuple[TestResult, ...]:
    from_progress, from_junit = _Tests(), _Tests()
    for line in _lines(run_dir / RECORD_FILE):
        outcome, sep, test_id = line.partition("\t")
        if sep and test_id:
            from_progress.add(test_id, outcome)
    _read_junit(run_dir / "junit.xml", from_junit)
    # The plugin's record saw every report (and exists when pytest died before JUnit); JUnit
    # alone is a run without the plugin.
    tests = from_progress if from_progress.outcomes else from_junit
    for test_id in from_junit.outcomes:
        tests.outcomes.setdefault(test_id, from_junit.outcomes[test_id])
    reran = tests.reran | from_junit.reran | {str(t) for t in result.get("flaky_tests") or ()}
    messages = dict(from_junit.messages)
    for failed in result.get("failed_tests") or ():
        if isinstance(failed, dict) and failed.get("id") in tests.outcomes:
            messages.setdefault(str(failed["id"]), str(failed.get("message") or ""))
    timings = read_phases(run_dir / PHASES_FILE)
    made = []
    for test_id in tests.outcomes:
        outcome = tests.final(test_id)
        timing = timings.get(test_id)
        seconds = timing.call if timing else from_junit.junit_seconds.get(test_id, 0.0)
        message = _first_line(messages.get(test_id, "")) if outcome in FAILING else ""
        made.append(
            TestResult(
                REDACTOR(test_id),
                outcome,
                seconds,
                timing.setup if timing else 0.0,
                timing.teardown if timing else 0.0,
                test_id in reran,
                REDACTOR(message),
            )
        )
    return tuple(made)


def _lines(path: Path) -> list[str]:
    """A record our plugins wrote, line by line. Bytes that are not UTF-8 (a test id from a
    parametrisation, a cut-off line) become U+FFFD: one odd test id never loses the run's record."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _read_junit(path: Path, into: _Tests) -> None:
    """JUnit (xunit1): each id's last testcase is its last attempt (pytest-rerunfailures), a
    teardown error is a testcase of its own that continues the test (results.junit's reading)."""
    try:
        cases = list(ET.parse(path).getroot().iter("testcase"))
    except (OSError, ET.ParseError):
        return
    found = [[c for c in case if c.tag in ("failure", "error", "skipped")] for case in cases]
    ids = [case_id(case) for case in cases]
    tails = [teardown_error(f) for f in found]
    final = {test: i for i, test in enumerate(ids) if not tails[i]}
    for i, (case, test) in enumerate(zip(cases, ids, strict=True)):
        into.junit_seconds[test] = into.junit_seconds.get(test, 0.0) + _float(case.get("time"))
        if not tails[i] and final[test] != i:
            into.add(test, "rerun")
            continue
        for child in found[i]:
            outcome = {"failure": "failed", "error": "error"}.get(child.tag, "skipped")
            if child.tag == "skipped" and child.get("type") == "pytest.xfail":
                outcome = "xfailed"
            into.add(test, outcome)
            if outcome in FAILING and test not in into.messages:
                into.messages[test] = child.get("message") or (child.text or "").strip()
        if not found[i]:
            xpass = any(p.get("value") == "xpassed" for p in case.iter("property"))
            into.add(test, "xpassed" if xpass else "passed")


def _first_line(message: str) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[0][:500] if lines else ""


def _files(run_dir: Path) -> dict[str, bytes]:
    files = {}
    for name in KEPT_FILES:
        try:
            data = (run_dir / name).read_bytes()
        except OSError:
            continue
        try:  # the run redacted its files; a dir from elsewhere gets the same filter here
            files[name] = REDACTOR(data.decode("utf-8")).encode("utf-8")
        except UnicodeDecodeError:
            files[name] = data
    return files


def _safe(text: str | None) -> str | None:
    return None if text is None else REDACTOR(text)


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _int(value: Any) -> int:
    return int(_float(value))


def _float(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0
