"""The command line: the command tree, parsing and dispatch only. No work happens here.

The callbacks live next to this module, one module per command group; they import their
`ci_toolkit.commands` module when they run, so `ci-toolkit --help` stays fast and never imports
docker, boto3 or psycopg. Every callback is registered through `with_error_boundary`: the one
place errors become messages and exit codes.

The habits of the tools users know (pytest, ruff, uv): `--version`/`-V`, `-h`, `-v`, and shell
completion (`--install-completion`, typer's).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from ci_toolkit import __version__, command_log
from ci_toolkit.cli import checks, history, init, run, shard, snapshot, stack
from ci_toolkit.cli.boundary import with_error_boundary
from ci_toolkit.cli.options import VerboseOpt

PROG = "ci-toolkit"
# Inherited by every group and command (click passes it down to child contexts).
CONTEXT = {"help_option_names": ["-h", "--help"]}


class App(typer.Typer):
    """The program is always `ci-toolkit`, also as `python -m ci_toolkit`: the completion script
    and its environment variable (_CI_TOOLKIT_COMPLETE) are named after it, and so is `Usage:`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("prog_name", PROG)
        return super().__call__(*args, **kwargs)


app = App(
    name=PROG,
    help="Run integration tests against a real Docker Compose stack, the same way locally and in CI.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=CONTEXT,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", is_eager=True, callback=_show_version, help="Print the version and exit."
        ),
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Run integration tests against a real Docker Compose stack, the same way locally and in CI."""
    if verbose:
        command_log.set_verbose(True)


def _group(name: str, help_text: str) -> typer.Typer:
    group = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


def _command(group: typer.Typer, name: str, callback: Callable[..., int]) -> None:
    group.command(name)(with_error_boundary(callback))


# `--help` lists commands in the order they are registered here, then the groups.
_command(app, "integration-run", run.integration_run)
_command(app, "migrate", run.migrate)
_command(app, "test", run.test)
_command(app, "version", checks.version)
_command(app, "matrix", checks.matrix)
_command(app, "soak", run.soak)
_command(app, "init", init.init)

config_app = _group("config", "Validate the ci-toolkit configuration.")
_command(config_app, "check", checks.config_check)

env_app = _group("env", "Validate the environment variables a run needs.")
_command(env_app, "check", checks.env_check)

stack_app = _group("stack", "Bring the compose stack up, inspect it, take it down.")
_command(stack_app, "up", stack.stack_up)
_command(stack_app, "wait", stack.stack_wait)
_command(stack_app, "ps", stack.stack_ps)
_command(stack_app, "logs", stack.stack_logs)
_command(stack_app, "down", stack.stack_down)
_command(stack_app, "prune", stack.stack_prune)
_command(stack_app, "leases", stack.stack_leases)

snapshot_app = _group("snapshot", "Snapshots of the migrated stack for cold runs (actions/cache).")
_command(snapshot_app, "key", snapshot.snapshot_key)
_command(snapshot_app, "save", snapshot.snapshot_save)
_command(snapshot_app, "load", snapshot.snapshot_load)
_command(snapshot_app, "prune", snapshot.snapshot_prune)
_command(snapshot_app, "list", snapshot.snapshot_list)

secrets_app = _group("secrets", "Check the [secrets] a run needs (names and sources, never values).")
_command(secrets_app, "check", checks.secrets_check)

shard_app = _group("shard", "Split the tests over matrix jobs by recorded durations.")
_command(shard_app, "plan", shard.shard_plan)

report_app = _group(
    "report", "Combine the results of several runs (matrix cells); open an issue for a failed one."
)
_command(report_app, "merge", checks.report_merge)
_command(report_app, "issue", history.report_issue)

history_app = _group("history", "Recorded runs: flaky tests across runs, the slowest tests, trends, a page.")
_command(history_app, "record", history.history_record)
_command(history_app, "flaky", history.history_flaky)
_command(history_app, "slowest", history.history_slowest)
_command(history_app, "trend", history.history_trend)
_command(history_app, "durations", history.history_durations)
_command(history_app, "html", history.history_html)

badge_app = _group("badge", "SVG badges (coverage, tests, flaky) from a run or the history store.")
_command(badge_app, "coverage", history.badge_coverage)
_command(badge_app, "tests", history.badge_tests)
_command(badge_app, "flaky", history.badge_flaky)
