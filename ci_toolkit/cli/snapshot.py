"""`snapshot key|save|load|prune|list`: each callback only parses and dispatches."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ci_toolkit.cli.options import ArtifactsOpt, ConfigOpt, JsonOpt, common_options

DirArg = Annotated[Path, typer.Argument(help="The directory actions/cache carries (created if needed).")]


def snapshot_key(
    config: ConfigOpt = None,
    restore_prefix: Annotated[
        bool,
        typer.Option(
            "--restore-prefix", help="Print the key without its migrations part (a restore-keys prefix)."
        ),
    ] = False,
    github_output: Annotated[
        bool,
        typer.Option(
            "--github-output",
            help="Also write key, restore-prefix and dir (under $RUNNER_TEMP) to $GITHUB_OUTPUT.",
        ),
    ] = False,
    json_mode: JsonOpt = False,
) -> int:
    """Print the stack's identity: compose model, image IDs, migrations, env, ci-toolkit version."""
    from ci_toolkit.commands.snapshot import snapshot_key as command

    return command(
        common_options(config, None, None, json_mode),
        restore_prefix=restore_prefix,
        github_output=github_output,
    )


def snapshot_save(
    directory: DirArg,
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    github_output: Annotated[
        bool, typer.Option("--github-output", help="Also write saved=true|false to $GITHUB_OUTPUT.")
    ] = False,
    json_mode: JsonOpt = False,
) -> int:
    """Write this stack's snapshot into DIR as one checksummed archive (if it is up to date)."""
    from ci_toolkit.commands.snapshot import snapshot_save as command

    opts = common_options(config, artifacts_dir, None, json_mode)
    return command(opts, directory, github_output=github_output)


def snapshot_load(directory: DirArg, config: ConfigOpt = None, json_mode: JsonOpt = False) -> int:
    """Take the snapshot in DIR into this machine's store (verified; a corrupt one is skipped)."""
    from ci_toolkit.commands.snapshot import snapshot_load as command

    return command(common_options(config, None, None, json_mode), directory)


def snapshot_prune(
    keep: Annotated[
        int, typer.Option("--keep", help="How many snapshots to keep (least recently used go).")
    ] = 3,
    json_mode: JsonOpt = False,
) -> int:
    """Bound the snapshot store: keep the N most recently used."""
    from ci_toolkit.commands.snapshot import snapshot_prune as command

    return command(common_options(None, None, None, json_mode), keep=keep)


def snapshot_list(json_mode: JsonOpt = False) -> int:
    """List the snapshots on this machine."""
    from ci_toolkit.commands.snapshot import snapshot_list as command

    return command(common_options(None, None, None, json_mode))
