"""`ci-toolkit shard plan`: strategy.matrix JSON with one cell per shard (times the [matrix] cells)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ci_toolkit.commands.common import CommonOptions
from ci_toolkit.config import matrix as matrix_mod
from ci_toolkit.errors import UsageError
from ci_toolkit.pipeline.sharding import ledger_path_for
from ci_toolkit.shard import ledger, plan

MAX_SHARDS = 256  # GitHub Actions runs at most 256 jobs per matrix


def shard_plan(
    opts: CommonOptions, shards: int, *, durations: Path | None, only: tuple[str, ...], pretty: bool
) -> int:
    if not 1 <= shards <= MAX_SHARDS:
        raise UsageError(f"--shards takes 1 to {MAX_SHARDS} (a GitHub Actions matrix's limit), got {shards}")
    config = opts.load_config()
    matrix_cells: list[dict[str, str]] = []
    if config.matrix is not None:
        matrix_cells = config.matrix.to_json(matrix_mod.select(config.matrix, only))["include"]
        if not matrix_cells:
            raise UsageError(f"no cell of the matrix matches {' '.join(only)}")
    elif only:
        raise UsageError(f"--only filters [matrix] cells, and {config.source} has no [matrix] table")
    data = plan.cells(shards, matrix_cells)
    if len(data["include"]) > MAX_SHARDS:
        raise UsageError(
            f"{shards} shards x {len(matrix_cells)} matrix cells make {len(data['include'])} jobs; "
            f"GitHub Actions runs at most {MAX_SHARDS} per matrix",
            hint="use fewer shards, or --only to plan some of the cells",
        )
    path = durations or ledger_path_for(config, opts.artifacts_dir)
    # The estimate goes to stderr: stdout is the JSON alone.
    recorded = ledger.load(path)
    if recorded.tests:
        sys.stderr.write(f"from {path} ({len(recorded.tests)} tests recorded):\n")
        for est in plan.estimate(recorded, shards):
            tests = f"{est.tests} test{'' if est.tests == 1 else 's'}"
            sys.stderr.write(f"  shard {est.label}: {tests}, about {est.seconds:.1f} s\n")
    else:
        sys.stderr.write(f"no durations recorded at {path}: each shard gets the same number of tests\n")
    # One line by default: `echo "matrix=$(ci-toolkit shard plan --shards 4)" >> "$GITHUB_OUTPUT"`.
    sys.stdout.write(json.dumps(data, indent=2 if pretty else None) + "\n")
    return 0
