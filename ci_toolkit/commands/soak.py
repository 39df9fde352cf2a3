"""`ci-toolkit soak`: repeat the integration run; report pass rate, timings, flaky tests, leaks."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ci_toolkit.commands.common import CommonOptions, emit_json
from ci_toolkit.config.soak_settings import SoakOptions, parse_duration
from ci_toolkit.errors import UsageError
from ci_toolkit.pipeline import selection
from ci_toolkit.pipeline.context import RunOptions
from ci_toolkit.soak.runner import Soak


@dataclass(frozen=True)
class SoakArgs:
    """The command line; None means "take it from [soak] in the config"."""

    duration: str | None = None
    iterations: int | None = None
    iteration_timeout: str | None = None
    heartbeat: str | None = None
    metrics: Path | None = None
    reuse_stack: bool | None = None
    fail_fast: bool | None = None
    pytest_args: tuple[str, ...] = ()


def soak(opts: CommonOptions, args: SoakArgs, choice: selection.Choice) -> int:
    config = opts.load_config()
    defaults = config.soak
    if args.iterations is not None or args.duration is not None:  # the command line says how long
        defaults = replace(defaults, iterations=None, duration=None)
    options = SoakOptions(
        iterations=args.iterations if args.iterations is not None else defaults.iterations,
        duration=parse_duration(args.duration, "--duration") if args.duration else defaults.duration,
        iteration_timeout=parse_duration(args.iteration_timeout, "--iteration-timeout")
        if args.iteration_timeout
        else defaults.iteration_timeout,
        heartbeat=parse_duration(args.heartbeat, "--heartbeat") if args.heartbeat else defaults.heartbeat,
        metrics=args.metrics.resolve() if args.metrics else None,
        reuse_stack=defaults.reuse_stack if args.reuse_stack is None else args.reuse_stack,
        fail_fast=defaults.fail_fast if args.fail_fast is None else args.fail_fast,
    )
    if options.iterations is None and options.duration is None:
        raise UsageError(
            "say how long to soak: --iterations N or --duration 2h",
            hint="or set iterations / duration under [soak] in the config",
        )
    if options.iterations is not None and options.iterations < 1:
        raise UsageError(f"--iterations must be at least 1, got {options.iterations}")
    if choice.suite is None and choice.matrix_entry is None and defaults.suite:
        choice = replace(choice, suite=defaults.suite)
    run_options = RunOptions(
        artifacts_dir=opts.artifacts_dir, project=opts.project, pytest_args=args.pytest_args
    )
    config, run_options, _ = selection.apply(config, run_options, choice)
    reporter = opts.reporter()
    runner = Soak(config, run_options, options, reporter)
    code = runner.run()
    report = runner.report
    reporter.line("", always=True)
    for line in (runner.out_dir / "soak-report.md").read_text().splitlines():
        reporter.line(line, always=True)
    reporter.line(f"report: {runner.out_dir / 'soak-report.md'} (and .json)", always=True)
    if opts.json_mode:
        emit_json(report)
    return code
