"""Tier 2 as one visible sequence of steps, and the pieces tier 3 and soak reuse.

    validate -> secrets -> up -> ready -> migrate -> snapshot -> reset -> test   (stops at the first failure)
    collect -> down (or keep)                                  (always: `Sequence.teardown`)

`execute` is the whole run; `start`, `attach` and `Sequence.step` give the tier-3 commands
(`stack up`, `stack wait`, `migrate`, `test`, `stack down`) and soak the same steps, in the same
order, with the same teardown. Every exit path, a signal included, produces a `RunResult`.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

from ci_toolkit.config import Config
from ci_toolkit.errors import ArtifactsUnwritable, ExitCode, Interrupted, UsageError
from ci_toolkit.output.console import Reporter
from ci_toolkit.pipeline import (
    artifacts,
    checks,
    context,
    diagnostics,
    endpoints,
    history_record,
    leasing,
    outcome,
    saved_stack,
    steps,
)
from ci_toolkit.pipeline.context import RunContext, RunOptions
from ci_toolkit.pipeline.state import Product, RunState
from ci_toolkit.pipeline.timeline import Timeline
from ci_toolkit.results.model import RunResult
from ci_toolkit.reuse import lease
from ci_toolkit.stack import ownership
from ci_toolkit.stack.compose import Stack
from ci_toolkit.stack.engine import Engine

Step = Callable[[RunContext, RunState], Product]

STEPS: tuple[tuple[str, Step], ...] = (
    ("validate", steps.validate),
    ("secrets", steps.fetch_secrets),
    ("up", steps.up),
    ("ready", steps.ready),
    ("migrate", steps.migrate),
    ("snapshot", steps.snapshot),
    ("reset", steps.reset),
    ("test", steps.test),
)
SETUP = tuple(name for name, _ in STEPS if name != "test")  # what a soak's reused stack does once
_BY_NAME = dict(STEPS)


class Sequence:
    """Runs steps in order, keeping what each returned (`state`) and how long it took (`timeline`)."""

    def __init__(self, ctx: RunContext, state: RunState | None = None) -> None:
        self.ctx = ctx
        self.state = state or RunState()
        self.timeline = Timeline(ctx.reporter, ctx.guard)
        self.left_behind: BaseException | None = None  # why teardown could not remove the stack

    def step(self, name: str) -> None:
        step = _BY_NAME[name]

        def run() -> Product:
            if name == "up":  # teardown needs the project even when `up` fails half way
                self.state = self.state.absorb(steps.stack_for(self.ctx, self.state))
            return step(self.ctx, self.state)

        product = self.timeline.timed(name, run)  # first: `run` may have replaced the state
        self.state = self.state.absorb(product)

    def run(self, names: Iterable[str]) -> None:
        for name in names:
            self.step(name)

    def discover(self) -> None:
        """Read the ports and render the exports of a stack this process did not start."""
        self.state = self.state.absorb(steps.discover(self.ctx, self.state))

    def teardown(
        self, failure: BaseException | None, *, keep: bool = False, collect: bool = True
    ) -> BaseException | None:
        """The one teardown: collect evidence, then keep the stack (only after success) or
        remove it (compose down, then anything still labelled). Returns the run's failure:
        the one it had, else a teardown error, else a signal that came meanwhile."""
        ctx = self.ctx
        ctx.guard.teardown()  # from here a signal only forces a faster teardown
        leasing.cancel_prestarted(self.state)
        if collect:
            evidence = failure is not None or ctx.options.diagnostics == "always"
            error = self._safely("collect", lambda: steps.collect(ctx, self.state, evidence=evidence))
            if isinstance(error, ArtifactsUnwritable):  # the evidence is lost: the run cannot pass
                failure = failure or error
        if self.state.stack is not None:
            if ctx.lease is not None and self.state.lease_ready:  # kept whatever the tests did
                leasing.keep(ctx)
            elif keep and failure is None:
                keep_stack(ctx, self.state)
            else:
                if ctx.lease is not None:  # it failed before its baseline: never reused
                    ctx.lease.forget()
                    ctx.reporter.warn(
                        f"lease {ctx.project} removed: this run stopped before its stack was reset "
                        "(or migrated); the next --reuse run starts a fresh stack"
                    )
                error = self._safely("down", lambda: steps.down(ctx, self.state))
                if error is not None and failure is not None:
                    self.left_behind = error  # the result must still say the stack is there
                failure = failure or error
        if self.state.events is not None:
            self.state.events.stop()
        if failure is None and ctx.guard.received is not None:
            failure = Interrupted(ctx.guard.received)  # it came while teardown was being entered
        return failure

    def conclude(self, failure: BaseException | None, *, bundle: bool = True) -> RunResult:
        """The result, written as run.json; the diagnostics bundle on failure (or always)."""
        result = outcome.build_result(
            self.ctx, self.state, self.timeline.phases, failure, left_behind=self.left_behind
        )
        result = history_record.conclude(self.ctx, result, self._write_result)  # run.json, [history]
        always = self.ctx.options.diagnostics == "always"
        if bundle and (result.exit_code != ExitCode.OK or always):
            try:
                diagnostics.write_bundle(self.ctx, self.state, result, failure)
            except Exception as exc:  # never let the evidence writer hide the run's outcome
                self.ctx.reporter.warn(f"could not write the whole diagnostics bundle: {exc}")
        return result

    def _write_result(self, result: RunResult) -> RunResult:
        """run.json, even on a full disk: then the largest evidence files make room for it, and a
        run that would have passed (or only failed tests) ends as artifacts_error."""
        path = self.ctx.run_dir / "run.json"
        try:
            artifacts.write_json(path, result.to_dict())
            return result
        except ArtifactsUnwritable as exc:
            dropped = artifacts.make_room(self.ctx.run_dir, keep=("run.json", "SUMMARY.md"))
            note = f"; deleted to make room for run.json: {', '.join(dropped)}" if dropped else ""
            if result.exit_code in (ExitCode.OK, ExitCode.TESTS_FAILED):
                result = replace(result, status=exc.status, exit_code=exc.exit_code, message=f"{exc}{note}")
            else:
                result = replace(result, message=f"{result.message}{note}")
        try:
            artifacts.write_json(path, result.to_dict())
        except ArtifactsUnwritable as exc:
            self.ctx.reporter.warn(f"run.json was not written: {exc.message}")
        return result

    def _safely(self, name: str, step: Callable[[], Product]) -> BaseException | None:
        try:
            self.timeline.timed(name, step)
        except (Exception, KeyboardInterrupt) as exc:
            self.ctx.reporter.error(f"{name}: {exc}")
            return exc
        return None


def execute(ctx: RunContext) -> RunResult:
    """The whole run (tier 2)."""
    seq = Sequence(ctx)
    failure: BaseException | None = None
    try:
        try:
            seq.run(name for name, _ in STEPS)
            ctx.guard.raise_if_received()  # a signal after the last step still counts
        except (Exception, KeyboardInterrupt) as exc:
            failure = exc
        finally:
            failure = seq.teardown(failure, keep=ctx.options.keep)
        return seq.conclude(failure)
    finally:
        ctx.release_lease()


def start(ctx: RunContext, *, wait: bool) -> Sequence:
    """`stack up`: validate, up (and ready); recorded in stack.json. Torn down if it fails."""
    seq = Sequence(ctx)
    try:
        seq.run(("validate", "up", "ready") if wait else ("validate", "up"))
    except (Exception, KeyboardInterrupt) as exc:
        seq.teardown(exc, collect=False)
        raise
    assert seq.state.stack is not None
    saved_stack.save(
        saved_stack.path_for(ctx.config, ctx.options.artifacts_dir),
        saved_stack.SavedStack(seq.state.stack, ctx.run_id),
    )
    return seq


def attach(ctx: RunContext, saved: saved_stack.SavedStack, env: dict[str, str]) -> Sequence:
    """A sequence bound to a stack that `stack up` (or `--keep`) left running."""
    state = RunState(
        env={**env, **saved.stack.env},
        engine=Engine.connect(),
        stack=saved.stack,
        up_started=time.monotonic(),
    )
    return Sequence(ctx, state)


def remove(seq: Sequence) -> None:
    """`stack down`: the pipeline's own down (compose, then leftovers by label), refused for a
    compose project that ci-toolkit did not create."""
    if seq.state.engine is not None:
        ownership.refuse_foreign(seq.state.engine, seq.ctx.project)
    failure = seq.teardown(None, collect=False)
    saved_stack.forget(saved_stack.path_for(seq.ctx.config, seq.ctx.options.artifacts_dir), seq.ctx.project)
    if failure is not None:
        raise failure


def iteration(base: Sequence, ctx: RunContext) -> Sequence:
    """A soak iteration on a reused stack: the base's state, its own run dir and phase list."""
    return Sequence(ctx, replace(base.state, test_run=None))


def keep_stack(ctx: RunContext, state: RunState) -> None:
    """Leave the stack up, record it for tier-3 commands, and say how to reach and remove it."""
    assert state.stack is not None
    saved_stack.save(
        saved_stack.path_for(ctx.config, ctx.options.artifacts_dir),
        saved_stack.SavedStack(replace(state.stack, env=dict(ctx.config.env_defaults)), ctx.run_id),
    )
    say = ctx.reporter.line
    say("stack kept running (--keep):", always=True)
    for line in endpoints.describe(ctx.config, state.services, state.env):
        say(line, always=True)
    say("tear it down with:  ci-toolkit stack down", always=True)
    say(f"  or:  {shlex.join(state.stack.command('down', '--volumes', '--remove-orphans'))}", always=True)


def remove_lease(config: Config, artifacts_dir: Path | None, reporter: Reporter) -> str:
    """`stack down --lease`: this config's lease removed like any stack (compose down, then
    anything labelled), then forgotten with its warm pytest; refused while a run holds it."""
    ctx = context.plan(config, RunOptions(artifacts_dir=artifacts_dir, reuse=True), reporter)
    name = lease.name_for(config)
    if ctx.lease is None:
        raise UsageError(
            f"lease {name} is in use by a running integration-run (pid {lease.holder(name)})",
            hint="let that run finish (or stop it), then run `ci-toolkit stack down --lease` again",
        )
    try:
        stack = Stack(name, config.compose_files, config.profiles, config.root, dict(config.env_defaults))
        seq = attach(ctx, saved_stack.SavedStack(stack, "lease"), dict(checks.resolve_env(config).values))
        with ctx.guard.installed():
            remove(seq)
        ctx.lease.discard()
    finally:
        ctx.release_lease()
    return name
