"""`ci-toolkit shard ...` callbacks: parse and dispatch to `ci_toolkit.commands.shard`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ci_toolkit.cli.options import ArtifactsOpt, ConfigOpt, JsonOpt, common_options


def shard_plan(
    shards: Annotated[int, typer.Option("--shards", "-n", help="How many shards (matrix jobs).")],
    durations: Annotated[
        Path | None,
        typer.Option(
            "--durations",
            help="The durations ledger to estimate from (default: pytest.durations, else "
            "<artifacts_dir>/durations.json).",
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Plan only [matrix] cells with KEY=VALUE (repeatable)."),
    ] = None,
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    pretty: Annotated[bool, typer.Option("--pretty", help="Indent the JSON (for reading, not CI).")] = False,
    json_mode: JsonOpt = False,
) -> int:
    """Print strategy.matrix JSON with one cell per shard ("shard": "2/4"), times the [matrix]
    cells; each shard's expected share goes to stderr. (Always JSON: --json is accepted for
    scripts that pass it to every command; it keeps the object on one line.)"""
    from ci_toolkit.commands.shard import shard_plan as command

    return command(
        common_options(config, artifacts_dir),
        shards,
        durations=durations,
        only=tuple(only or ()),
        pretty=pretty and not json_mode,
    )
