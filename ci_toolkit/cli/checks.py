"""The commands that start no stack: config/env/secrets check, matrix, report merge, version.

Each callback only turns its options into the arguments of its `ci_toolkit.commands` function
(imported when it runs, never at `--help`) and returns that function's exit code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ci_toolkit import __version__
from ci_toolkit.cli.options import ConfigOpt, JsonOpt, SecretsFileOpt, SecretsFromEnvOpt, common_options


def config_check(config: ConfigOpt = None, json_mode: JsonOpt = False) -> int:
    """Check the config file and the compose file(s) it names; start nothing."""
    from ci_toolkit.commands.check import config_check as command

    return command(common_options(config, json_mode=json_mode))


def env_check(config: ConfigOpt = None, json_mode: JsonOpt = False) -> int:
    """Check that every required environment variable is set (names only, never values)."""
    from ci_toolkit.commands.check import env_check as command

    return command(common_options(config, json_mode=json_mode))


def secrets_check(
    config: ConfigOpt = None,
    secrets_from_env: SecretsFromEnvOpt = False,
    secrets_file: SecretsFileOpt = None,
    json_mode: JsonOpt = False,
) -> int:
    """Resolve every secret and list which resolve, from where; exit code 10/11/12 per error."""
    from ci_toolkit.commands.secrets import secrets_check as command

    return command(common_options(config, json_mode=json_mode), from_env=secrets_from_env, file=secrets_file)


def version(json_mode: JsonOpt = False) -> int:
    """Print the ci-toolkit version (the bare number; `ci-toolkit --version` says the name too)."""
    typer.echo(json.dumps({"version": __version__}) if json_mode else __version__)
    return 0


def matrix(
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Keep only cells with KEY=VALUE (repeatable), e.g. --only suite=full."),
    ] = None,
    config: ConfigOpt = None,
    pretty: Annotated[bool, typer.Option("--pretty", help="Indent the JSON (for reading, not CI).")] = False,
    json_mode: JsonOpt = False,
) -> int:
    """Print the [matrix] cells as JSON for a workflow's `strategy.matrix: ${{ fromJSON(...) }}`.
    (Always JSON: --json is accepted like on every command and keeps it on one line.)"""
    from ci_toolkit.commands.matrix import matrix as command

    return command(common_options(config), tuple(only or ()), pretty=pretty and not json_mode)


def report_merge(
    dirs: Annotated[
        list[Path], typer.Argument(help="Run artifacts dirs (junit.xml + run.json), or dirs holding them.")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the Markdown summary to this file.")
    ] = None,
    into: Annotated[
        Path | None,
        typer.Option(
            "--into",
            help="Where the shards' merged junit.xml, coverage and durations.json go [default: ./merged].",
        ),
    ] = None,
    durations: Annotated[
        Path | None,
        typer.Option(
            "--durations", help="Also write the shards' merged durations ledger here (the file you cache)."
        ),
    ] = None,
    json_mode: JsonOpt = False,
) -> int:
    """Merge matrix cells' results into one Markdown summary, and shards of one run into one result.

    Shards (`integration-run --shard K/N`) of one run are merged into --into: one junit.xml, their
    coverage combined (and judged against pytest.fail_under as a whole) and their durations ledgers.
    They are refused (exit 2) when they are not all of one run. Exit 1 if any cell or test failed.
    The summary goes to stdout, to --output, and to $GITHUB_STEP_SUMMARY when that is set.
    """
    from ci_toolkit.commands.report import merge as command

    return command(tuple(dirs), output=output, json_mode=json_mode, into=into, durations=durations)
