"""`stack up|wait|ps|logs|down|prune`: the compose stack kept between commands.

Each callback only turns its options into the arguments of its `ci_toolkit.commands.stack`
function (imported when it runs, never at `--help`) and returns that function's exit code.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ci_toolkit.cli.options import (
    ArtifactsOpt,
    ConfigOpt,
    JsonOpt,
    ProjectOpt,
    ServiceOpt,
    common_options,
    selection_choice,
)


def stack_up(
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Also wait until every service is ready.")
    ] = True,
    service: ServiceOpt = None,
    json_mode: JsonOpt = False,
) -> int:
    """Start the stack (unique project, dynamic ports) and record it for the other commands."""
    from ci_toolkit.commands.stack import stack_up as command

    opts = common_options(config, artifacts_dir, project, json_mode)
    return command(opts, wait=wait, choice=selection_choice(None, services=service))


def stack_wait(
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
    json_mode: JsonOpt = False,
) -> int:
    """Wait until every service of the recorded stack answers its protocol."""
    from ci_toolkit.commands.stack import stack_wait as command

    return command(common_options(config, artifacts_dir, project, json_mode))


def stack_ps(
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
    json_mode: JsonOpt = False,
) -> int:
    """List the containers of the recorded stack."""
    from ci_toolkit.commands.stack import stack_ps as command

    return command(common_options(config, artifacts_dir, project, json_mode))


def stack_logs(
    service: Annotated[str | None, typer.Argument(help="One service (default: all).")] = None,
    tail: Annotated[int | None, typer.Option("--tail", help="Only the last N lines.")] = None,
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
    json_mode: JsonOpt = False,
) -> int:
    """Print the logs of the recorded stack."""
    from ci_toolkit.commands.stack import stack_logs as command

    return command(common_options(config, artifacts_dir, project, json_mode), service, tail)


def stack_down(
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
    lease: Annotated[
        bool, typer.Option("--lease", help="Remove this config's lease (the stack kept by --reuse).")
    ] = False,
    json_mode: JsonOpt = False,
) -> int:
    """Remove the recorded stack (or, with --lease, the lease): containers, networks and volumes."""
    opts = common_options(config, artifacts_dir, project, json_mode)
    if lease:
        from ci_toolkit.commands.leases import lease_down

        return lease_down(opts)
    from ci_toolkit.commands.stack import stack_down as command

    return command(opts)


def stack_leases(json_mode: JsonOpt = False) -> int:
    """List the stacks kept between runs by --reuse: who holds each, how long idle, whose config."""
    from ci_toolkit.commands.leases import stack_leases as command

    return command(json_mode=json_mode)


def stack_prune(
    older_than: Annotated[
        float,
        typer.Option(
            "--older-than", help="Kept stacks and other hosts' stacks older than this many hours go too."
        ),
    ] = 24.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be removed.")] = False,
    json_mode: JsonOpt = False,
) -> int:
    """Remove stacks whose owning run is gone (killed, crashed).

    A live run's stack is never touched; kept stacks (stack up, --keep) and other hosts'
    stacks go once they are older than --older-than.
    """
    from ci_toolkit.commands.stack import stack_prune as command

    return command(older_than, dry_run=dry_run, json_mode=json_mode)
