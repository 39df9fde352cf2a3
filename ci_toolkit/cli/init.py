"""`ci-toolkit init`: one repository (a directory), or `--batch` over many git remotes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ci_toolkit.cli.options import JsonOpt, QuietOpt


def init(
    path: Annotated[Path, typer.Argument(help="The repository to set up (default: here).")] = Path("."),
    with_services: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            help="Without a compose file: write docker-compose.test.yml with these services "
            "(postgres, redis, nats; comma-separated or repeated).",
        ),
    ] = None,
    config_file: Annotated[
        str,
        typer.Option(
            "--config-file",
            help="Where the config goes: auto (pyproject.toml's [tool.ci-toolkit] when there is a "
            "pyproject.toml, else ci-toolkit.toml), pyproject or ci-toolkit.toml.",
        ),
    ] = "auto",
    no_workflow: Annotated[
        bool, typer.Option("--no-workflow", help="Do not write .github/workflows/integration-tests.yml.")
    ] = False,
    toolkit_repository: Annotated[
        str,
        typer.Option(
            "--toolkit-repository",
            help="OWNER/NAME of ci-toolkit on GitHub: the workflow then uses its composite actions "
            "(with --toolkit-ref). Default: the workflow installs ci-toolkit from the package index.",
        ),
    ] = "",
    toolkit_ref: Annotated[
        str, typer.Option("--toolkit-ref", help="The commit SHA (40 hex) of those actions.")
    ] = "",
    python: Annotated[str, typer.Option("--python", help="Python version the workflow sets up.")] = "3.12",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the diff of what would change; write nothing.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit 1 if the files differ from what init would write (drift in CI)."),
    ] = False,
    batch: Annotated[
        Path | None,
        typer.Option("--batch", help="A file of git remotes, one per line: onboard each on --branch."),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="--batch: repositories at once.")
    ] = 4,
    branch: Annotated[
        str, typer.Option("--branch", help="--batch: the branch the setup is committed on.")
    ] = "ci-toolkit/onboard",
    push: Annotated[
        bool, typer.Option("--push", help="--batch: push the branch (and delete it again on failure).")
    ] = False,
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="--batch: where the clones go (default: a temporary dir)."),
    ] = None,
    json_mode: JsonOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Write ci-toolkit's setup into a repository: config, a compose file if it has none, the workflow."""
    from ci_toolkit.commands import init as command
    from ci_toolkit.errors import UsageError
    from ci_toolkit.onboard import compose_template
    from ci_toolkit.onboard.model import TARGETS, InitOptions

    if config_file not in TARGETS:
        raise UsageError(f"--config-file {config_file}: choose from {', '.join(TARGETS)}")
    if dry_run and check:
        raise UsageError("--dry-run and --check: choose one (--check also prints the diff)")
    options = InitOptions(
        with_services=compose_template.kinds(with_services or []),
        target=config_file,
        workflow=not no_workflow,
        toolkit_repository=toolkit_repository,
        toolkit_ref=toolkit_ref,
        python_version=python,
    )
    if batch is not None:
        return command.init_batch(
            batch, options, concurrency=concurrency, branch=branch, push=push, dry_run=dry_run,
            workdir=workdir, json_mode=json_mode, quiet=quiet,
        )  # fmt: skip
    return command.init(path, options, dry_run=dry_run, check=check, json_mode=json_mode, quiet=quiet)
