"""The run's last act when `[history] store` is set: record it (`ci-toolkit history record`).

Recording never changes a run's result: a store that cannot be written is a warning naming the
store and the command that records the run later (its artifacts are all still on disk).
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from ci_toolkit.errors import CiToolkitError
from ci_toolkit.pipeline.context import RunContext


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
        env = {**os.environ, **ctx.options.env}
        kept, files = recorder.build(ctx.run_dir, env)
        store.put(kept, files)
    except (CiToolkitError, OSError) as exc:
        later = shlex.join(["ci-toolkit", "history", "record", str(ctx.run_dir), "--store", uri])
        ctx.reporter.warn(
            f"history: this run was not recorded in {uri}: {exc}; record it later with: {later}"
        )
        return {"store": uri, "error": str(exc)}
    ctx.reporter.info(f"history: recorded {kept.run_id} in {uri}")
    return {"store": uri, "run_id": kept.run_id}


def trend_section(ctx: RunContext) -> str | None:
    """The job summary's trend chart (Mermaid) over the newest `[history] last` runs, this one
    included; None without a store, or (with a warning) when the store cannot be read."""
    uri = ctx.config.history.store
    if uri is None:
        return None
    from ci_toolkit.history import queries
    from ci_toolkit.history.store import open_store
    from ci_toolkit.output import trend_chart

    try:
        runs = open_store(uri, ctx.config.root).runs(last=ctx.config.history.last)
    except (CiToolkitError, OSError) as exc:
        ctx.reporter.warn(f"history: no trend chart in the job summary: {uri} could not be read: {exc}")
        return None
    return trend_chart.mermaid(queries.trend(runs))
