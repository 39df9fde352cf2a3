"""What a soak measures and says while it runs: one metrics record per iteration (appended to
the metrics file as a JSON line), engine disk usage, progress lines with pass rate and ETA,
and heartbeats naming the iteration and phase in progress."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ci_toolkit.config.soak_settings import SoakOptions
from ci_toolkit.output.console import Reporter
from ci_toolkit.redact import REDACTOR
from ci_toolkit.results.model import PhaseResult, RunResult
from ci_toolkit.soak import report as soak_report
from ci_toolkit.soak.report import format_duration
from ci_toolkit.stack.engine import Engine


class Tracker(Reporter):
    """The pipeline's reporter during an iteration: silent except errors; remembers the phase."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream, quiet=True)
        self.phase = "starting"
        self.since = time.monotonic()

    def phase_start(self, name: str) -> None:
        self.phase, self.since = name, time.monotonic()


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def disk_usage(engine: Engine | None) -> dict[str, int] | None:
    """`docker system df` through the SDK: bytes used by images, containers, volumes, cache."""
    try:
        assert engine is not None
        df = engine.api.df()
    except Exception:  # a measurement must never fail the soak
        return None
    usage = {
        "images": int(df.get("LayersSize") or 0),
        "containers": sum(int(c.get("SizeRw") or 0) for c in df.get("Containers") or ()),
        "volumes": sum(
            max(0, int((v.get("UsageData") or {}).get("Size") or 0)) for v in df.get("Volumes") or ()
        ),
        "build_cache": sum(int(b.get("Size") or 0) for b in df.get("BuildCache") or ()),
    }
    return {**usage, "total": sum(usage.values())}


def build_record(
    i: int,
    result: RunResult,
    phases: Sequence[PhaseResult],
    seconds: float,
    *,
    timed_out: bool,
    leaked: dict[str, list[str]] | None,
    disk: dict[str, int] | None,
) -> dict[str, Any]:
    failed_phase = next((p.name for p in phases if p.status in ("failed", "interrupted")), None)
    if failed_phase is None and result.status in ("tests_failed", "coverage_below_threshold"):
        failed_phase = "test"
    return {
        "iteration": i,
        "timestamp": now(),
        "status": "timeout" if timed_out else result.status,
        "exit_code": result.exit_code,
        "seconds": round(seconds, 3),
        "project": result.project,
        "phases": {p.name: round(p.seconds, 3) for p in phases},
        "failed_phase": failed_phase,
        "tests": result.tests.to_dict(),
        "failed_tests": [f.id for f in result.tests.failures],
        "flaky_tests": list(result.tests.flaky),  # passed only on a rerun (pytest-rerunfailures)
        "leaked": leaked,
        "disk": disk,
        "message": result.message[:2000],
        "artifacts_dir": result.artifacts_dir,
    }


class Progress:
    """The records so far, the metrics file, and the lines a person (or a CI log) sees."""

    def __init__(
        self, options: SoakOptions, reporter: Reporter, metrics_path: Path, tracker: Tracker
    ) -> None:
        self.options = options
        self.reporter = reporter
        self.metrics_path = metrics_path
        self.tracker = tracker
        self.records: list[dict[str, Any]] = []
        self.started = time.monotonic()
        self.iteration = 0

    def plan(self) -> str:
        what = []
        if self.options.iterations is not None:
            what.append(f"{self.options.iterations} iterations")
        if self.options.duration is not None:
            what.append(f"for {format_duration(self.options.duration)}")
        mode = "one reused stack" if self.options.reuse_stack else "a fresh stack each"
        return f"{' or '.join(what)}, {mode}"

    def add(self, record: dict[str, Any]) -> None:
        self.records.append(record)
        with self.metrics_path.open("a", encoding="utf-8") as fh:
            fh.write(REDACTOR(json.dumps(record)) + "\n")
        passed, counted = self.tally()
        of = f"/{self.options.iterations}" if self.options.iterations else ""
        rate = f"{passed}/{counted} passed ({passed / counted * 100:.1f}%)" if counted else "none counted"
        why = ""
        if record["failed_tests"]:
            why = f" (failed: {', '.join(record['failed_tests'][:3])})"
        elif record["status"] != "passed" and record["failed_phase"]:
            first = record["message"].splitlines()[0][:160] if record["message"] else ""
            why = f" (in {record['failed_phase']}: {first})"
        elapsed = time.monotonic() - self.started
        self.reporter.line(
            f"[soak] iteration {record['iteration']}{of}: {record['status']} in {record['seconds']:.1f}s{why}"
            f" | {rate} | elapsed {format_duration(elapsed)}{self.eta(elapsed)}"
        )

    def tally(self) -> tuple[int, int]:
        """(passed, counted): an interrupted iteration is neither."""
        counted = [r for r in self.records if r["status"] not in soak_report.NOT_COUNTED]
        return sum(1 for r in counted if r["status"] == "passed"), len(counted)

    def eta(self, elapsed: float) -> str:
        done = len(self.records)
        left = []
        if self.options.iterations is not None and done:
            left.append((self.options.iterations - done) * elapsed / done)
        if self.options.duration is not None:
            left.append(max(0.0, self.options.duration - elapsed))
        return f" | ETA {format_duration(min(left))}" if left else ""

    def heartbeat(self, stop: threading.Event) -> None:
        """Until `stop`: every `heartbeat` seconds, which iteration and phase is running."""
        while not stop.wait(self.options.heartbeat):
            passed, counted = self.tally()
            in_phase = time.monotonic() - self.tracker.since
            self.reporter.line(
                f"[soak] heartbeat {now()}: iteration {self.iteration}, {self.tracker.phase} for "
                f"{format_duration(in_phase)}; {passed}/{counted} passed so far; "
                f"elapsed {format_duration(time.monotonic() - self.started)}"
            )
