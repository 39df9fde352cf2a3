"""`ci-toolkit soak`: the integration run again and again, to find flaky tests, leaks and drift.

Each iteration is `pipeline.execute(run)` on a fresh stack (its own project name), so a
soak measures exactly what CI runs. With `reuse_stack`, one stack is brought up and
migrated once (the pipeline's own steps) and only the tests repeat. After each iteration
one JSON line goes to the metrics file: status, phase timings, test counts, failed test
ids, resources still labelled with the iteration's project, and engine disk usage.
The report (Markdown + JSON) is written at the end, on --fail-fast, and on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

from ci_toolkit import artifacts, pipeline, soak_report
from ci_toolkit.config import Config
from ci_toolkit.engine import Engine, leftovers
from ci_toolkit.errors import InfrastructureError, Interrupted
from ci_toolkit.proc import COMMAND_LOG
from ci_toolkit.redact import REDACTOR
from ci_toolkit.result import PhaseResult, RunResult
from ci_toolkit.signals import SignalGuard
from ci_toolkit.soak_report import format_duration
from ci_toolkit.ui import Reporter


@dataclass(frozen=True)
class SoakOptions:
    iterations: int | None = None
    duration: float | None = None  # seconds; no new iteration starts after it
    iteration_timeout: float | None = None
    heartbeat: float = 60.0
    metrics: Path | None = None
    reuse_stack: bool = False
    fail_fast: bool = False


class IterationTimeout(InfrastructureError):
    """An iteration ran past --iteration-timeout; it is stopped, torn down and counted as failed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the iteration did not finish within {seconds:g}s (--iteration-timeout) and was stopped",
            hint="raise --iteration-timeout, or look at the phase it stopped in",
        )


class _Tracker(Reporter):
    """The pipeline's reporter during an iteration: silent except errors; remembers the phase."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream, quiet=True)
        self.phase = "starting"
        self.since = time.monotonic()

    def phase_start(self, name: str) -> None:
        self.phase, self.since = name, time.monotonic()


@dataclass
class _Deadline:
    fired: bool = False
    armed: bool = True


@contextmanager
def _deadline(seconds: float | None, guard: SignalGuard) -> Iterator[_Deadline]:
    """SIGALRM after `seconds` raises IterationTimeout, unless teardown has begun (main thread only)."""
    state = _Deadline()
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield state
        return

    def on_alarm(signum: int, frame: FrameType | None) -> None:
        if state.armed and not guard.in_teardown:
            state.fired = True
            guard.force.set()  # the iteration has failed: no graceful stop period at teardown
            raise IterationTimeout(seconds)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield state
    finally:
        state.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Soak:
    def __init__(
        self, config: Config, run_options: pipeline.RunOptions, options: SoakOptions, reporter: Reporter
    ):
        self.config = config
        self.run_options = run_options
        self.options = options
        self.reporter = reporter
        self.soak_id = secrets.token_hex(4)
        root = run_options.artifacts_dir or config.artifacts_dir
        self.out_dir = (root / f"soak-{self.soak_id}").resolve()
        self.metrics_path = (options.metrics or self.out_dir / "metrics.jsonl").resolve()
        self.records: list[dict[str, Any]] = []
        self.started = time.monotonic()
        self.started_at = _now()
        self.iteration = 0
        self.tracker = _Tracker(reporter.stream)
        self.stopped = "completed"
        self.final_leaks: dict[str, list[str]] | None = None
        self.engine: Engine | None = None
        self.report: dict[str, Any] = {}

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> int:
        """Run until done; write the report; exit code 0 (all passed), 1, or 128+signal."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
        self.reporter.line(f"[soak] {self.soak_id}: {self._plan()}; results in {self.out_dir}")
        stop_beat = threading.Event()
        code = 0
        outer = SignalGuard()  # between iterations, Ctrl-C/SIGTERM stops the soak
        with outer.installed():
            try:
                self.engine = Engine.connect()
                threading.Thread(target=self._heartbeat, args=(stop_beat,), daemon=True).start()
                self._reuse_stack() if self.options.reuse_stack else self._fresh_stacks()
            except Interrupted as exc:
                self.stopped = f"interrupted by {signal.Signals(exc.signum).name}"
                code = exc.exit_code
            finally:
                outer.teardown()  # a further signal must not cut the report short
                stop_beat.set()
                self.write_report()
        return code or (0 if self.report["failed"] == 0 else 1)

    def _fresh_stacks(self) -> None:
        for i in self._iterations():
            guard = SignalGuard()
            env = {**self.run_options.env, "CI_TOOLKIT_ITERATION": str(i)}
            options = replace(
                self.run_options,
                project=self._project(str(i)),
                artifacts_dir=self.out_dir,
                keep=False,
                env=env,
            )
            started = time.monotonic()
            with guard.installed():
                run = pipeline.Run(self.config, options, self.tracker, guard)
                self.tracker.phase_start("starting")
                with _deadline(self.options.iteration_timeout, guard) as deadline:
                    result = pipeline.execute(run)
            seconds = time.monotonic() - started
            assert self.engine is not None
            leaked = leftovers(self.engine, run.project)
            record = self._record(i, result, run.phases, seconds, deadline.fired, leaked)
            _forget_commands()
            if guard.received is not None:
                raise Interrupted(guard.received)
            if self._stop_after(record):
                return

    def _reuse_stack(self) -> None:
        guard = SignalGuard()
        with guard.installed():
            options = replace(self.run_options, project=self._project("stack"), artifacts_dir=self.out_dir)
            run = pipeline.Run(self.config, options, self.tracker, guard)
            base_dir = run.run_dir
            setup_failure: BaseException | None = None
            try:
                started = time.monotonic()
                try:
                    for name, step in pipeline.STEPS:
                        if name != "test":
                            run.timed(name, step)
                except (Exception, KeyboardInterrupt) as exc:
                    setup_failure = exc
                for i in self._iterations():
                    if i > 1:
                        run.phases, started = [], time.monotonic()
                    run.test_run, run.run_dir = None, base_dir / f"iteration-{i:03d}"
                    run.env["CI_TOOLKIT_ITERATION"] = str(i)
                    failure, fired = setup_failure, False
                    if failure is None:
                        try:
                            with _deadline(self.options.iteration_timeout, guard) as deadline:
                                run.timed("test", pipeline.test)
                        except (Exception, KeyboardInterrupt) as exc:
                            failure = exc
                        fired = deadline.fired
                    result = pipeline.build_result(run, failure)
                    artifacts.write_json(run.run_dir / "run.json", result.to_dict())
                    record = self._record(i, result, run.phases, time.monotonic() - started, fired, None)
                    _forget_commands()
                    if setup_failure is not None or guard.received is not None or self._stop_after(record):
                        break
            finally:
                guard.teardown()
                run.run_dir = base_dir
                self._teardown(run)
        if guard.received is not None:
            raise Interrupted(guard.received)

    def _teardown(self, run: pipeline.Run) -> None:
        for name, step in (("collect", pipeline.collect), ("down", pipeline.down)):
            if name == "down" and run.stack is None:
                continue
            try:
                run.timed(name, step)
            except Exception as exc:
                self.reporter.error(f"{name}: {exc}")
        if self.engine is not None:
            self.final_leaks = leftovers(self.engine, run.project)

    def _iterations(self) -> Iterator[int]:
        i = 0
        while True:
            i += 1
            if self.options.iterations is not None and i > self.options.iterations:
                return
            if self.options.duration is not None and time.monotonic() - self.started >= self.options.duration:
                self.stopped = f"duration {format_duration(self.options.duration)} reached"
                return
            self.iteration = i
            yield i

    def _stop_after(self, record: dict[str, Any]) -> bool:
        if self.options.fail_fast and record["status"] != "passed":
            self.stopped = f"fail-fast: iteration {record['iteration']} {record['status']}"
            return True
        return False

    def _project(self, suffix: str) -> str:
        base = self.run_options.project or f"{self.config.project_prefix}-soak-{self.soak_id}"
        return f"{base}-{suffix}"

    # -- measuring --------------------------------------------------------------------
    def _record(
        self,
        i: int,
        result: RunResult,
        phases: list[PhaseResult],
        seconds: float,
        timed_out: bool,
        leaked: dict[str, list[str]] | None,
    ) -> dict[str, Any]:
        record = {
            "iteration": i,
            "timestamp": _now(),
            "status": "timeout" if timed_out else result.status,
            "exit_code": result.exit_code,
            "seconds": round(seconds, 3),
            "project": result.project,
            "phases": {p.name: round(p.seconds, 3) for p in phases},
            "failed_phase": next((p.name for p in phases if p.status in ("failed", "interrupted")), None)
            or ("test" if result.status in ("tests_failed", "coverage_below_threshold") else None),
            "tests": result.tests.to_dict(),
            "failed_tests": [f.id for f in result.tests.failures],
            "leaked": leaked,
            "disk": self._disk(),
            "message": result.message[:2000],
            "artifacts_dir": result.artifacts_dir,
        }
        self.records.append(record)
        with self.metrics_path.open("a", encoding="utf-8") as fh:
            fh.write(REDACTOR(json.dumps(record)) + "\n")
        self._progress(record)
        return record

    def _disk(self) -> dict[str, int] | None:
        """`docker system df` through the SDK: bytes used by images, containers, volumes, cache."""
        try:
            assert self.engine is not None
            df = self.engine.api.df()
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

    # -- telling ----------------------------------------------------------------------
    def _plan(self) -> str:
        what = []
        if self.options.iterations is not None:
            what.append(f"{self.options.iterations} iterations")
        if self.options.duration is not None:
            what.append(f"for {format_duration(self.options.duration)}")
        mode = "one reused stack" if self.options.reuse_stack else "a fresh stack each"
        return f"{' or '.join(what)}, {mode}"

    def _tally(self) -> tuple[int, int]:
        counted = [r for r in self.records if r["status"] not in soak_report.NOT_COUNTED]
        return sum(1 for r in counted if r["status"] == "passed"), len(counted)

    def _progress(self, record: dict[str, Any]) -> None:
        passed, counted = self._tally()
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
            f" | {rate} | elapsed {format_duration(elapsed)}{self._eta(elapsed)}"
        )

    def _eta(self, elapsed: float) -> str:
        done = len(self.records)
        left = []
        if self.options.iterations is not None and done:
            left.append((self.options.iterations - done) * elapsed / done)
        if self.options.duration is not None:
            left.append(max(0.0, self.options.duration - elapsed))
        return f" | ETA {format_duration(min(left))}" if left else ""

    def _heartbeat(self, stop: threading.Event) -> None:
        while not stop.wait(self.options.heartbeat):
            passed, counted = self._tally()
            in_phase = time.monotonic() - self.tracker.since
            self.reporter.line(
                f"[soak] heartbeat {_now()}: iteration {self.iteration}, {self.tracker.phase} for "
                f"{format_duration(in_phase)}; {passed}/{counted} passed so far; "
                f"elapsed {format_duration(time.monotonic() - self.started)}"
            )

    def write_report(self) -> dict[str, Any]:
        self.report = soak_report.summarize(
            self.records,
            soak_id=self.soak_id,
            mode="one reused stack" if self.options.reuse_stack else "fresh stack per iteration",
            started=self.started_at,
            finished=_now(),
            seconds=round(time.monotonic() - self.started, 3),
            stopped=self.stopped,
            options={**asdict(self.options), "metrics": str(self.metrics_path)},
            metrics=str(self.metrics_path),
            final_leaks=self.final_leaks,
            report_dir=str(self.out_dir),
        )
        markdown = soak_report.render_markdown(self.report)
        artifacts.write_json(self.out_dir / "soak-report.json", self.report)
        artifacts.write_text(self.out_dir / "soak-report.md", markdown)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as fh:
                fh.write(REDACTOR(markdown) + "\n")
        return self.report


def _forget_commands() -> None:
    """Each iteration's diagnostics list only its own commands, and a long soak does not grow
    memory. (proc.CommandLog has no public clear(); this is the one place that needs it.)"""
    with COMMAND_LOG._lock:
        COMMAND_LOG._records.clear()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
