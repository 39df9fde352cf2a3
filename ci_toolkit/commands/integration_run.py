"""`ci-toolkit integration-run`: the whole tier-2 pipeline."""

from __future__ import annotations

from ci_toolkit import pipeline
from ci_toolkit.commands.common import CommonOptions, emit_json, new_run
from ci_toolkit.errors import CiToolkitError, Interrupted
from ci_toolkit.redact import REDACTOR
from ci_toolkit.result import RunResult
from ci_toolkit.signals import SignalGuard


def integration_run(opts: CommonOptions, *, keep: bool, pytest_args: tuple[str, ...]) -> int:
    guard = SignalGuard()
    reporter = opts.reporter()
    with guard.installed():
        try:
            run = new_run(opts, guard, keep=keep, pytest_args=pytest_args)
        except (CiToolkitError, KeyboardInterrupt) as exc:
            error = exc if isinstance(exc, CiToolkitError) else Interrupted(2)
            result = RunResult(error.status, error.exit_code, None, message=REDACTOR(str(error)))
        else:
            run.reporter = reporter
            result = pipeline.execute(run)
    if result.exit_code not in (0, 1) or result.status == "coverage_below_threshold":
        reporter.error(result.message)
    reporter.summary(result)
    if opts.json_mode:
        emit_json(result.to_dict())
    return result.exit_code
