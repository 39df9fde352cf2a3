"""From what a run did to what it means: status, exit code and message (`RunResult`)."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from ci_toolkit.errors import CiToolkitError, ExitCode, Interrupted
from ci_toolkit.pipeline import artifacts
from ci_toolkit.redact import REDACTOR
from ci_toolkit.results.model import RunResult, TestCounts

if TYPE_CHECKING:
    from ci_toolkit.pipeline.sequence import Run


def build_result(run: Run, failure: BaseException | None) -> RunResult:
    counts = run.test_run.counts if run.test_run else TestCounts()
    coverage = run.test_run.coverage_percent if run.test_run else None
    message = ""
    if failure is None and run.test_run is not None:
        fail_under = run.config.pytest.fail_under
        if run.test_run.exit_code != 0 or counts.failed or counts.errors:
            status, code = "tests_failed", ExitCode.TESTS_FAILED
            message = f"{counts.failed} failed, {counts.errors} errors"
        elif fail_under is not None and coverage is not None and coverage < fail_under:
            status, code = "coverage_below_threshold", ExitCode.TESTS_FAILED
            message = f"coverage {coverage:.1f}% is below pytest.fail_under = {fail_under:g}"
        else:
            status, code = "passed", ExitCode.OK
    elif isinstance(failure, KeyboardInterrupt):
        failure = Interrupted(2)
        status, code, message = failure.status, failure.exit_code, failure.message
    elif isinstance(failure, CiToolkitError):
        status, code, message = failure.status, failure.exit_code, str(failure)
    elif failure is not None:
        log = write_traceback(run.run_dir, failure)
        status, code = "internal_error", ExitCode.INTERNAL
        message = f"internal error (a bug in ci-toolkit): {failure!r}; traceback in {log}"
    else:
        status, code = "passed", ExitCode.OK
    return RunResult(
        status,
        code,
        run.project,
        tuple(run.phases),
        run.services,
        counts,
        coverage,
        str(run.run_dir),
        REDACTOR(message),
    )


def write_traceback(run_dir: Path, exc: BaseException) -> Path:
    text = "".join(traceback.format_exception(exc))
    return artifacts.write_text(run_dir / "traceback.log", text)
