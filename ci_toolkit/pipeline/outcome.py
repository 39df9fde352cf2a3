"""From what a run did to what it means: status, exit code and message (`RunResult`).

Exceptions are mapped by `error_handler.classify`, the one mapping; this module adds only what
a run that did not raise means (tests failed, coverage below the threshold, passed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ci_toolkit.error_handler import classify
from ci_toolkit.errors import ExitCode
from ci_toolkit.pipeline import leasing, snapshots
from ci_toolkit.pipeline.context import RunContext
from ci_toolkit.pipeline.pytest_run import PytestKilled
from ci_toolkit.pipeline.state import RunState
from ci_toolkit.redact import REDACTOR
from ci_toolkit.results.model import PhaseResult, RunResult, TestCounts


def build_result(
    ctx: RunContext,
    state: RunState,
    phases: Sequence[PhaseResult],
    failure: BaseException | None,
    *,
    left_behind: BaseException | None = None,
) -> RunResult:
    """`left_behind`: a teardown that failed after the run had already failed; its message (how
    to remove the stack later) is added to the run's own."""
    test_run = state.test_run
    counts = test_run.counts if test_run else TestCounts()
    if isinstance(failure, PytestKilled):
        counts = failure.counts  # the tests that finished before pytest was killed
    coverage = test_run.coverage_percent if test_run else None
    message = ""
    if failure is not None:
        mapped = classify(failure, ctx.run_dir)
        status, code, message = mapped.status, mapped.exit_code, mapped.message
    elif test_run is not None and (test_run.exit_code != 0 or counts.failed or counts.errors):
        status, code = "tests_failed", ExitCode.TESTS_FAILED
        message = f"{counts.failed} failed, {counts.errors} errors"
    elif test_run is not None and _below_threshold(ctx, coverage):
        status, code = "coverage_below_threshold", ExitCode.TESTS_FAILED
        message = f"coverage {coverage:.1f}% is below pytest.fail_under = {ctx.config.pytest.fail_under:g}"
    else:
        status, code = "passed", ExitCode.OK
    if left_behind is not None:
        message += f"\nand the stack could not be removed: {classify(left_behind, ctx.run_dir).message}"
    return RunResult(
        status,
        code,
        ctx.project,
        tuple(phases),
        state.services,
        counts,
        coverage,
        str(ctx.run_dir),
        REDACTOR(message),
        reuse=leasing.result_info(ctx, state),
        snapshot=snapshots.result_info(ctx, state),
        shard=_shard_info(ctx, state),
        runner=test_run.runner if test_run else None,
    )


def _shard_info(ctx: RunContext, state: RunState) -> dict[str, Any] | None:
    """For `report merge`: which shard, what it kept of which collection, and the coverage
    threshold it left to the merged total."""
    shard = ctx.options.shard
    if shard is None:
        return None
    kept = dict(state.test_run.shard or {}) if state.test_run else {}
    return {
        "index": shard.index,
        "count": shard.count,
        "tests": kept.get("tests"),
        "selected": kept.get("selected"),
        "collection": kept.get("collection"),
        "estimated_seconds": kept.get("estimated_seconds"),
        "fail_under": ctx.config.pytest.fail_under,
        "root": str(ctx.config.root),  # where its coverage data's paths are (report merge relocates them)
    }


def _below_threshold(ctx: RunContext, coverage: float | None) -> bool:
    if ctx.options.shard is not None:  # one shard covers part of the code: the merged total is judged
        return False
    fail_under = ctx.config.pytest.fail_under
    return fail_under is not None and coverage is not None and coverage < fail_under
