"""The test step's side of shards and the durations ledger.

Before pytest: where `pytest_shard` records phase timings and the collection, and for
`--shard K/N` the costs it splits by (from the ledger). After pytest: the ledger updated from
what ran, into the run dir (`report merge` merges shards' copies) and, for a run that is not a
shard, over the ledger itself. A shard leaves the ledger alone: its sibling shards, started
later from the same ledger, must compute the same split.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ci_toolkit.config import Config
from ci_toolkit.errors import ConfigError
from ci_toolkit.pipeline.context import RunContext, artifacts_root
from ci_toolkit.shard import ledger
from ci_toolkit.shard.testcases import read_times

ENV_VAR = "CI_TOOLKIT_DURATIONS"
COSTS_FILE = "shard-costs.json"
REPORT_FILE = "shard.json"  # pytest_shard: what this shard kept (read by pytest_run)


def ledger_path(ctx: RunContext) -> Path:
    return ledger_path_for(ctx.config, ctx.options.artifacts_dir)


def ledger_path_for(config: Config, artifacts_dir: Path | None = None) -> Path:
    """CI_TOOLKIT_DURATIONS (a workflow's cached file), else `pytest.durations`, else
    `durations.json` in the artifacts root (beside the run dirs)."""
    named = os.environ.get(ENV_VAR, "").strip()
    if named:
        return Path(named)
    return config.pytest.durations or artifacts_root(artifacts_dir, config) / ledger.FILE_NAME


def test_env(ctx: RunContext) -> dict[str, str]:
    run_dir = ctx.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in (ledger.PHASES_FILE, ledger.COLLECTED_FILE, REPORT_FILE):
        (run_dir / stale).unlink(missing_ok=True)
    env = {
        "CI_TOOLKIT_PHASES": str(run_dir / ledger.PHASES_FILE),
        "CI_TOOLKIT_COLLECTED": str(run_dir / ledger.COLLECTED_FILE),
    }
    shard = ctx.options.shard
    if shard is None:
        return env
    plan_input = ledger.load(ledger_path(ctx)).plan_input()
    (run_dir / COSTS_FILE).write_text(json.dumps(plan_input, sort_keys=True) + "\n", encoding="utf-8")
    return env | {
        "CI_TOOLKIT_SHARD": shard.label,
        "CI_TOOLKIT_SHARD_COSTS": str(run_dir / COSTS_FILE),
        "CI_TOOLKIT_SHARD_REPORT": str(run_dir / REPORT_FILE),
    }


def update_ledger(ctx: RunContext) -> str:
    """The ledger after this run, from the plugin's phase timings (JUnit's times without them).
    Returns a note for the test phase's output, "" when there was nothing to record."""
    run_dir = ctx.run_dir
    seen = ledger.read_phases(run_dir / ledger.PHASES_FILE)
    source = "phase timings"
    if not seen:
        seen = {k: ledger.Timing(call=v) for k, v in read_times(run_dir / "junit.xml").items()}
        source = "JUnit times"
    if not seen:
        return ""
    path = ledger_path(ctx)
    collected = ledger.read_collected(run_dir / ledger.COLLECTED_FILE)
    try:
        before = ledger.load(path)
    except ConfigError as exc:  # the tests have run: a bad ledger costs only its old figures
        before, source = ledger.Ledger(), f"{source}; {exc.message}: started a new one"
    new = before.updated(seen, collected, root=ctx.config.root)
    ledger.save(new, run_dir / ledger.FILE_NAME)
    if ctx.options.shard is not None:
        return f"durations of {len(seen)} tests recorded in {run_dir / ledger.FILE_NAME} (for `report merge`)"
    try:
        ledger.save(new, path)
    except OSError as exc:
        return f"durations not recorded: cannot write {path}: {exc.strerror or exc}"
    return f"durations of {len(seen)} tests ({source}) recorded in {path}"
