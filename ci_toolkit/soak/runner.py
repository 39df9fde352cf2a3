"""`ci-toolkit soak`: the integration run again and again, to find flaky tests, leaks and drift.

Each iteration is `sequence.execute(ctx)` on a fresh stack (its own project name), so a
soak measures exactly what CI runs. With `reuse_stack`, one stack is brought up and
migrated once (the pipeline's own steps) and only the tests repeat. After each iteration
one JSON line goes to the metrics file: status, phase timings, test counts, failed test
ids, resources still labelled with the iteration's project, and engine disk usage.
The report (Markdown + JSON) is written at the end, on --fail-fast, and on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import secrets
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from types import FrameType
from typing import Any

from ci_toolkit.config import Config
from ci_toolkit.config.soak_settings import SoakOptions
from ci_toolkit.errors import InfrastructureError, Interrupted
from ci_toolkit.output import github
from ci_toolkit.output.console import Reporter
from ci_toolkit.pipeline import artifacts, context, sequence
from ci_toolkit.pipeline.context import RunOptions
from ci_toolkit.proc import COMMAND_LOG
from ci_toolkit.results.model import RunResult
from ci_toolkit.signals import SignalGuard
from ci_toolkit.soak import metrics as soak_metrics
from ci_toolkit.soak import report as soak_report
from ci_toolkit.soak.report import format_duration
from ci_toolkit.stack.engine import Engine, leftovers


class IterationTimeout(InfrastructureError):
    """An iteration ran past --iteration-timeout; it is stopped, torn down and counted as failed."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the iteration did not finish within {seconds:g}s (--iteration-timeout) and was stopped",
            hint="raise --iteration-timeout, or look at the phase it stopped in",
        )


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
    def __init__(self, config: Config, run_options: RunOptions, options: SoakOptions, reporter: Reporter):
        self.config = config
        self.run_options = run_options
        self.options = options
        self.reporter = reporter
        self.soak_id = secrets.token_hex(4)
        root = context.artifacts_root(run_options.artifacts_dir, config)
        self.out_dir = (root / f"soak-{self.soak_id}").resolve()
        self.metrics_path = (options.metrics or self.out_dir / "metrics.jsonl").resolve()
        self.started_at = soak_metrics.now()
        self.tracker = soak_metrics.Tracker(reporter.stream)
        self.progress = soak_metrics.Progress(options, reporter, self.metrics_path, self.tracker)
        self.records = self.progress.records
        self.stopped = "completed"
        self.final_leaks: dict[str, list[str]] | None = None
        self.engine: Engine | None = None
        self.report: dict[str, Any] = {}

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> int:
        """Run until done; write the report; exit code 0 (all passed), 1, or 128+signal."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
        self.reporter.line(f"[soak] {self.soak_id}: {self.progress.plan()}; results in {self.out_dir}")
        stop_beat = threading.Event()
        code = 0
        outer = SignalGuard()  # between iterations, Ctrl-C/SIGTERM stops the soak
        with outer.installed():
            try:
                self.engine = Engine.connect()
                threading.Thread(target=self.progress.heartbeat, args=(stop_beat,), daemon=True).start()
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
            options = replace(
                self.run_options,
                project=self._project(str(i)),
                artifacts_dir=self.out_dir,
                keep=False,
                env={**self.run_options.env, "CI_TOOLKIT_ITERATION": str(i)},
            )
            ctx = context.plan(self.config, options, self.tracker, SignalGuard())
            started = time.monotonic()
            with ctx.guard.installed():
                self.tracker.phase_start("starting")
                with _deadline(self.options.iteration_timeout, ctx.guard) as deadline:
                    result = sequence.execute(ctx)
            assert self.engine is not None
            leaked = leftovers(self.engine, ctx.project)
            record = self._record(i, result, time.monotonic() - started, deadline.fired, leaked)
            COMMAND_LOG.clear()  # each iteration's bundle lists only its own commands
            if ctx.guard.received is not None:
                raise Interrupted(ctx.guard.received)
            if self._stop_after(record):
                return

    def _reuse_stack(self) -> None:
        """One stack set up by the pipeline's own steps, the test step repeated, one teardown."""
        options = replace(self.run_options, project=self._project("stack"), artifacts_dir=self.out_dir)
        ctx = context.plan(self.config, options, self.tracker, SignalGuard())
        base = sequence.Sequence(ctx)
        with ctx.guard.installed():
            setup_failure: BaseException | None = None
            try:
                started = time.monotonic()
                try:
                    base.run(sequence.SETUP)
                except (Exception, KeyboardInterrupt) as exc:
                    setup_failure = exc
                for i in self._iterations():
                    env = {**options.env, "CI_TOOLKIT_ITERATION": str(i)}
                    run_dir = ctx.run_dir / f"iteration-{i:03d}"
                    it = sequence.iteration(
                        base, replace(ctx, run_dir=run_dir, options=replace(options, env=env))
                    )
                    if i == 1:  # the first iteration's record includes the setup phases
                        it.timeline.phases[:0] = base.timeline.phases
                    else:
                        started = time.monotonic()
                    failure, fired = setup_failure, False
                    if failure is None:
                        try:
                            with _deadline(self.options.iteration_timeout, ctx.guard) as deadline:
                                it.step("test")
                        except (Exception, KeyboardInterrupt) as exc:
                            failure = exc
                        fired = deadline.fired
                    result = it.conclude(failure, bundle=False)
                    record = self._record(i, result, time.monotonic() - started, fired, None)
                    COMMAND_LOG.clear()  # each iteration's bundle lists only its own commands
                    if (
                        setup_failure is not None
                        or ctx.guard.received is not None
                        or self._stop_after(record)
                    ):
                        break
            finally:
                self._teardown(base)
        if ctx.guard.received is not None:
            raise Interrupted(ctx.guard.received)

    def _teardown(self, base: sequence.Sequence) -> None:
        base.teardown(None)  # collect, then down: the pipeline's one teardown
        if self.engine is not None:
            self.final_leaks = leftovers(self.engine, base.ctx.project)

    def _iterations(self) -> Iterator[int]:
        i = 0
        while True:
            i += 1
            if self.options.iterations is not None and i > self.options.iterations:
                return
            elapsed = time.monotonic() - self.progress.started
            if self.options.duration is not None and elapsed >= self.options.duration:
                self.stopped = f"duration {format_duration(self.options.duration)} reached"
                return
            self.progress.iteration = i
            yield i

    def _stop_after(self, record: dict[str, Any]) -> bool:
        if self.options.fail_fast and record["status"] != "passed":
            self.stopped = f"fail-fast: iteration {record['iteration']} {record['status']}"
            return True
        return False

    def _project(self, suffix: str) -> str:
        base = self.run_options.project or f"{self.config.project_prefix}-soak-{self.soak_id}"
        return f"{base}-{suffix}"

    def _record(
        self,
        i: int,
        result: RunResult,
        seconds: float,
        timed_out: bool,
        leaked: dict[str, list[str]] | None,
    ) -> dict[str, Any]:
        disk = soak_metrics.disk_usage(self.engine)
        record = soak_metrics.build_record(
            i, result, result.phases, seconds, timed_out=timed_out, leaked=leaked, disk=disk
        )
        self.progress.add(record)
        return record

    def write_report(self) -> dict[str, Any]:
        self.report = soak_report.summarize(
            self.records,
            soak_id=self.soak_id,
            mode="one reused stack" if self.options.reuse_stack else "fresh stack per iteration",
            started=self.started_at,
            finished=soak_metrics.now(),
            seconds=round(time.monotonic() - self.progress.started, 3),
            stopped=self.stopped,
            options={**asdict(self.options), "metrics": str(self.metrics_path)},
            metrics=str(self.metrics_path),
            final_leaks=self.final_leaks,
            report_dir=str(self.out_dir),
        )
        markdown = soak_report.render_markdown(self.report)
        artifacts.write_json(self.out_dir / "soak-report.json", self.report)
        artifacts.write_text(self.out_dir / "soak-report.md", markdown)
        github.append_step_summary(markdown)
        return self.report
