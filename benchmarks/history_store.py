"""The `history` figure (issue 15): how many runs per second the local history store keeps.

Each rep writes WRITES consecutive runs into a fresh store directory, as `integration-run` ends
each run: `put()` of a realistic record (TESTS tests, each with an outcome, call/setup/teardown
seconds and a few failure messages) with the run's run.json and junit.xml (the bytes a run of that
many tests writes). What is timed is `put()` alone: compressing the files, writing them into a
temporary directory, renaming it into place and the SQLite insert. Records are made beforehand.

Target (the issue): at least 20 runs/s at 20 consecutive writes; reference figure 45 writes/s.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from ci_toolkit.history.model import RunRecord, TestResult
from ci_toolkit.history.store import open_store

WRITES = 20
TESTS = 200
TARGET = 20.0  # runs/s
REFERENCE = 45.0  # writes/s, the reference store


def store_writes(reps: int, workdir: Path) -> dict[str, Any]:
    """Runs per second over WRITES consecutive `put()`s into a new store, per rep; the median."""
    per_rep: list[float] = []
    latencies: list[float] = []
    for rep in range(reps):
        root = workdir / f"history-store-{rep}"
        shutil.rmtree(root, ignore_errors=True)
        store = open_store(str(root), workdir)
        runs = [_run(rep, i) for i in range(WRITES)]
        started = time.perf_counter()
        for record, files in runs:
            began = time.perf_counter()
            store.put(record, files)
            latencies.append(time.perf_counter() - began)
        per_rep.append(WRITES / (time.perf_counter() - started))
        assert len(store.runs()) == WRITES, "a write was lost"
        shutil.rmtree(root, ignore_errors=True)
    median = statistics.median(per_rep)
    return {
        "writes": WRITES,
        "tests_per_run": TESTS,
        "reps": reps,
        "runs_per_second": median,
        "runs_per_second_reps": per_rep,
        "write_ms_p50": statistics.median(latencies) * 1000,
        "write_ms_max": max(latencies) * 1000,
        "target_runs_per_second": TARGET,
        "reference_writes_per_second": REFERENCE,
        "meets_target": median >= TARGET,
    }


def _run(rep: int, i: int) -> tuple[RunRecord, dict[str, bytes]]:
    """One run of TESTS tests, a few failing, and the files such a run leaves."""
    tests = tuple(
        TestResult(
            f"tests/integration/test_module_{t // 20:02d}.py::test_case_{t:03d}[param-{t % 7}]",
            "failed" if t % 67 == 0 else "skipped" if t % 31 == 0 else "passed",
            0.003 * (t % 50) + 0.001 * i,
            0.002,
            0.0005,
            t % 97 == 0,
            "AssertionError: assert 41 == 42" if t % 67 == 0 else "",
        )
        for t in range(TESTS)
    )
    failed = sum(1 for t in tests if t.outcome == "failed")
    skipped = sum(1 for t in tests if t.outcome == "skipped")
    counts = {"passed": TESTS - failed - skipped, "failed": failed, "errors": 0, "skipped": skipped}
    phases = {"validate": 0.4, "secrets": 0.03, "up": 1.1, "ready": 1.2, "migrate": 0.05, "test": 6.5}
    run_id = f"20261202T07{i:02d}{rep % 60:02d}.{i:03d}Z-bench-{rep}-{i}"
    record = RunRecord(
        run_id=run_id,
        finished_at=1_796_195_700.0 + i,
        status="tests_failed",
        exit_code=1,
        counts={**counts, "xfailed": 0, "xpassed": 0, "rerun": 2},
        coverage_percent=87.5,
        phases=phases,
        tests=tests,
        commit=f"{i:040x}",
        branch="main",
        workflow="ci",
        run_url=f"https://github.com/acme/shop/actions/runs/{1000 + i}",
        project=f"bench-{rep}-{i}",
    )
    return record, {"run.json": _run_json(record), "junit.xml": _junit(tests)}


def _run_json(record: RunRecord) -> bytes:
    failed = [
        {"id": t.id, "file": t.id.split("::")[0], "line": 10, "message": t.message}
        for t in record.tests
        if t.outcome == "failed"
    ]
    data = {
        "status": record.status,
        "exit_code": record.exit_code,
        "project": record.project,
        "phases": [{"name": n, "status": "ok", "seconds": s} for n, s in record.phases.items()],
        "tests": dict(record.counts),
        "failed_tests": failed,
        "flaky_tests": [t.id for t in record.tests if t.reran],
        "coverage_percent": record.coverage_percent,
    }
    return json.dumps(data, indent=2).encode()


def _junit(tests: tuple[TestResult, ...]) -> bytes:
    cases = []
    for t in tests:
        file, _, name = t.id.partition("::")
        module = file.removesuffix(".py").replace("/", ".")
        inner = {
            "failed": f'<failure message="{t.message}">{t.message}\n{file}:10: AssertionError</failure>',
            "skipped": '<skipped type="pytest.skip" message="not here">not here</skipped>',
        }.get(t.outcome, "")
        cases.append(
            f'<testcase classname="{module}" name="{name}" file="{file}" line="9" '
            f'time="{t.seconds + t.setup + t.teardown:.3f}">{inner}</testcase>'
        )
    body = "".join(cases)
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" '
        f'tests="{len(tests)}">{body}</testsuite></testsuites>'
    ).encode()
