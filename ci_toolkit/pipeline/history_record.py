"""The run's last act: its id in run.json, and with `[history] store` the run recorded there.

Recording never changes a run's result. A store that cannot be written (or read, for the job
summary's chart) is a warning naming the store and the command that records the run later (its
artifacts are all still on disk); any other exception there is a bug in ci-toolkit, and the same
warning says where its traceback was written. run.json is written once by the sequence (which
makes room for it on a full disk) and rewritten here only to add where the run was recorded: that
second write replaces the file whole or not at all, so the first one is what stays when it fails.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ci_toolkit.error_handler import write_traceback
from ci_toolkit.errors import CiToolkitError
from ci_toolkit.pipeline import artifacts
from ci_toolkit.pipeline.context import RunContext
from ci_toolkit.results.model import RunResult

RESULT_FILE = "run.json"
TRACEBACKS = "history"  # <run dir>/history/traceback.log: apart from the run's own traceback.log


def conclude(ctx: RunContext, result: RunResult, write: Callable[[RunResult], RunResult]) -> RunResult:
    """run.json through `write` (the sequence's writer), carrying the run's id for every history
    store (`"history": {"run_id": …}`: copies of the artifacts dir name the same run); then, with
    a store, the run recorded and run.json rewritten with where (`store`, or the `error`)."""
    from ci_toolkit.history import identity

    result = write(replace(result, history={"run_id": identity.make(ctx.project, time.time())}))
    recorded = record(ctx)
    if recorded is None:
        return result
    result = replace(result, history={**(result.history or {}), **recorded})
    _rewrite(ctx, result)
    return result


def record(ctx: RunContext) -> dict[str, Any] | None:
    """Record the run whose run.json was just written; returns what run.json's `history` says
    (the store and the run's id there, or the error), None without a store."""
    uri = ctx.config.history.store
    if uri is None:
        return None
    from ci_toolkit.history import record as recorder
    from ci_toolkit.history.store import open_store

    try:
        store = open_store(uri, ctx.config.root)
        kept, files = recorder.build(ctx.run_dir, _env(ctx))
        store.put(kept, files)
    except CiToolkitError as exc:
        return _not_recorded(ctx, uri, exc.message, exc.hint)
    except OSError as exc:
        return _not_recorded(ctx, uri, str(exc))
    except Exception as exc:  # a bug in ci-toolkit: still never the run's result
        return _not_recorded(ctx, uri, _bug(ctx, exc))
    ctx.reporter.info(f"history: recorded {kept.run_id} in {uri}")
    return {"store": uri, "run_id": kept.run_id}


def trend_section(ctx: RunContext) -> str | None:
    """The job summary's trend chart (Mermaid) over the newest `[history] last` runs of this
    run's branch, this one included; None without a store, or (with a warning) when the store
    cannot be read. A run without a branch (a detached HEAD outside Actions) sees every branch."""
    uri = ctx.config.history.store
    if uri is None:
        return None
    from ci_toolkit.history import origin, queries
    from ci_toolkit.history.store import open_store
    from ci_toolkit.output import trend_chart

    try:
        branch = origin.branch_of(_env(ctx))
        runs = open_store(uri, ctx.config.root).runs(last=ctx.config.history.last, branch=branch)
        return trend_chart.mermaid(queries.trend(runs))
    except (CiToolkitError, OSError) as exc:
        reason = str(exc)
    except Exception as exc:  # a bug: the summary goes on without the chart
        reason = _bug(ctx, exc)
    ctx.reporter.warn(f"history: no trend chart in the job summary: {uri} could not be read: {reason}")
    return None


def _env(ctx: RunContext) -> dict[str, str]:
    return {**os.environ, **ctx.options.env}


def _not_recorded(ctx: RunContext, uri: str, reason: str, hint: str | None = None) -> dict[str, Any]:
    later = shlex.join(["ci-toolkit", "history", "record", str(ctx.run_dir), "--store", uri])
    said = f"history: this run was not recorded in {uri}: {reason}; record it later with: {later}"
    ctx.reporter.warn(said + (f"\n  hint: {hint}" if hint else ""))
    return {"store": uri, "error": reason}


def _bug(ctx: RunContext, exc: Exception) -> str:
    log = write_traceback(exc, ctx.run_dir / TRACEBACKS)
    return f"internal error (a bug in ci-toolkit): {exc!r}; the traceback is in {log}"


def _rewrite(ctx: RunContext, result: RunResult) -> None:
    """run.json again, with `history`: a temporary file renamed over it, so a full disk (or any
    failure) leaves the first run.json whole; never makes room, never changes the result."""
    path = ctx.run_dir / RESULT_FILE
    staged = path.with_name(f".{RESULT_FILE}.{secrets.token_hex(4)}.tmp")
    try:
        artifacts.write_json(staged, result.to_dict())
        os.replace(staged, path)
    except (CiToolkitError, OSError) as exc:
        with contextlib.suppress(OSError):
            staged.unlink()
        ctx.reporter.warn(
            f"history: {path} keeps its first version, without where the run was recorded: {exc}"
        )
