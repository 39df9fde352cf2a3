"""`ci-toolkit integration-run`: the whole tier-2 pipeline."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from ci_toolkit import secret_store
from ci_toolkit.commands.common import CommonOptions, emit_json, plan_run
from ci_toolkit.error_handler import classify
from ci_toolkit.errors import CiToolkitError, UsageError
from ci_toolkit.output import github as gh
from ci_toolkit.output import github_summary as ghs
from ci_toolkit.output.console import make_reporter
from ci_toolkit.pipeline import history_record, selection, sequence
from ci_toolkit.pipeline.context import RunContext
from ci_toolkit.pipeline.diagnostics import early_failure
from ci_toolkit.signals import SignalGuard


def integration_run(
    opts: CommonOptions,
    *,
    keep: bool,
    pytest_args: tuple[str, ...],
    github: bool | None = None,
    diagnostics: str = "on-failure",
    secrets_from_env: bool = False,
    secrets_file: Path | None = None,
    choice: selection.Choice | None = None,
    reuse: bool | None = None,
    snapshot: bool | None = None,
) -> int:
    if diagnostics not in ("on-failure", "always"):
        raise UsageError(f"--diagnostics takes on-failure or always, not {diagnostics!r}")
    guard = SignalGuard()
    on_github = gh.enabled(github)
    reporter = make_reporter(json_mode=opts.json_mode, quiet=opts.quiet, github=on_github)
    ctx: RunContext | None = None
    with guard.installed():
        try:
            secret_store.source_label(secrets_from_env, secrets_file)  # the two exclude each other
            ctx = plan_run(
                opts,
                guard=guard,
                reporter=reporter,
                choice=choice,
                keep=keep,
                pytest_args=pytest_args,
                diagnostics=diagnostics,
                secrets_from_env=secrets_from_env,
                secrets_file=secrets_file.resolve() if secrets_file else None,
                reuse=reuse,
                snapshot=snapshot,
            )
        except (CiToolkitError, KeyboardInterrupt) as exc:
            result = early_failure(opts.artifacts_dir, opts.project, classify(exc))
        else:
            if on_github:
                gh.started(ctx.project)
            result = sequence.execute(ctx)
    if result.exit_code not in (0, 1) or result.status == "coverage_below_threshold":
        reporter.error(result.message)
    reporter.summary(result)
    if on_github:
        repeat = ghs.cli_options(  # what else shaped this run, for the summary's reproduce command
            **asdict(choice or selection.Choice()),
            secrets_from_env=secrets_from_env,
            secrets_file=secrets_file,
        )
        config = ctx.config if ctx else None
        invocation = ghs.Invocation.current(opts.config_path, pytest_args, config, options=repeat)
        gh.publish(result, invocation, reporter.stream)
        if ctx is not None and result.history and (chart := history_record.trend_section(ctx)):
            try:
                gh.append_step_summary(chart)
            except OSError as exc:  # as publish does: the summary never changes the run's outcome
                reporter.warn(f"the job summary's trend chart was not written: {exc}")
    if opts.json_mode:
        emit_json(result.to_dict())
    return result.exit_code
