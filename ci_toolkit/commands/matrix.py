"""`ci-toolkit matrix`: the [matrix] cells as JSON for GitHub Actions' `strategy.matrix`."""

from __future__ import annotations

import json
import sys

from ci_toolkit.commands.common import CommonOptions
from ci_toolkit.config import matrix as matrix_mod
from ci_toolkit.errors import UsageError


def matrix(opts: CommonOptions, only: tuple[str, ...], *, pretty: bool = False) -> int:
    config = opts.load_config()
    if config.matrix is None:
        raise UsageError(
            f"{config.source} has no [matrix] table",
            hint='declare axes, e.g. POSTGRES_IMAGE = ["postgres:15", "postgres:17"] (README: Matrix)',
        )
    cells = matrix_mod.select(config.matrix, only)
    if not cells:
        raise UsageError(f"no cell of the matrix matches {' '.join(only)}")
    data = config.matrix.to_json(cells)
    # One line by default: `echo "matrix=$(ci-toolkit matrix)" >> "$GITHUB_OUTPUT"` needs that.
    sys.stdout.write(json.dumps(data, indent=2 if pretty else None) + "\n")
    return 0
