"""The command line: parse arguments and dispatch. No work happens here.

Command modules are imported inside each command so `ci-toolkit --help` stays fast and
never imports docker or boto3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ci_toolkit import __version__
from ci_toolkit.error_handler import guarded

app = typer.Typer(
    name="ci-toolkit",
    help="Run integration tests against a real Docker Compose stack, the same way locally and in CI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
config_app = typer.Typer(help="Validate the ci-toolkit configuration.", no_args_is_help=True)
env_app = typer.Typer(help="Validate the environment variables a run needs.", no_args_is_help=True)
stack_app = typer.Typer(help="Bring the compose stack up, inspect it, take it down.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(env_app, name="env")
app.add_typer(stack_app, name="stack")

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: ci-toolkit.toml, then pyproject.toml [tool.ci-toolkit]).",
    ),
]
ArtifactsOpt = Annotated[
    Path | None,
    typer.Option("--artifacts-dir", help="Where results go (default: artifacts_dir from config)."),
]
ProjectOpt = Annotated[
    str | None,
    typer.Option(
        "--project",
        "-p",
        help="Compose project name (default: unique per run, or the one `stack up` recorded).",
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout; progress goes to stderr.")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and the final summary.")]
PytestArgs = Annotated[Optional[list[str]], typer.Argument(help="Extra pytest arguments, after `--`.")]  # noqa: UP045


def _opts(
    config: Path | None,
    artifacts_dir: Path | None = None,
    project: str | None = None,
    json_mode: bool = False,
    quiet: bool = False,
) -> object:
    from ci_toolkit.commands.common import CommonOptions

    return CommonOptions(config, artifacts_dir, project, json_mode, quiet)


def _exit(code: int) -> None:
    raise typer.Exit(code)


@app.command("integration-run")
def integration_run(
    pytest_args: PytestArgs = None,
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the stack running; print how to reach and remove it.")
    ] = False,
    json_mode: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Validate, bring the stack up, wait until ready, migrate, run pytest, collect, tear down."""
    from ci_toolkit.commands.integration_run import integration_run as command

    opts = _opts(config, artifacts_dir, project, json_mode, quiet)
    _exit(guarded(lambda: command(opts, keep=keep, pytest_args=tuple(pytest_args or ()))))  # type: ignore[arg-type]


@config_app.command("check")
def config_check(config: ConfigOpt = None, json_mode: JsonOpt = False) -> None:
    """Check the config file and the compose file(s) it names; start nothing."""
    from ci_toolkit.commands.check import config_check as command

    opts = _opts(config, json_mode=json_mode)
    _exit(guarded(lambda: command(opts)))  # type: ignore[arg-type]


@env_app.command("check")
def env_check(config: ConfigOpt = None, json_mode: JsonOpt = False) -> None:
    """Check that every required environment variable is set (names only, never values)."""
    from ci_toolkit.commands.check import env_check as command

    opts = _opts(config, json_mode=json_mode)
    _exit(guarded(lambda: command(opts)))  # type: ignore[arg-type]


@stack_app.command("up")
def stack_up(
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Also wait until every service is ready.")
    ] = True,
    json_mode: JsonOpt = False,
) -> None:
    """Start the stack (unique project, dynamic ports) and record it for the other commands."""
    from ci_toolkit.commands.stack import stack_up as command

    opts = _opts(config, artifacts_dir, project, json_mode)
    _exit(guarded(lambda: command(opts, wait=wait)))  # type: ignore[arg-type]


@stack_app.command("wait")
def stack_wait(
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
    json_mode: JsonOpt = False,
) -> None:
    """Wait until every service of the recorded stack answers its protocol."""
    from ci_toolkit.commands.stack import stack_wait as command

    opts = _opts(config, artifacts_dir, project, json_mode)
    _exit(guarded(lambda: command(opts)))  # type: ignore[arg-type]


@stack_app.command("ps")
def stack_ps(
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
    json_mode: JsonOpt = False,
) -> None:
    """List the containers of the recorded stack."""
    from ci_toolkit.commands.stack import stack_ps as command

    opts = _opts(config, artifacts_dir, project, json_mode)
    _exit(guarded(lambda: command(opts)))  # type: ignore[arg-type]


@stack_app.command("logs")
def stack_logs(
    service: Annotated[Optional[str], typer.Argument(help="One service (default: all).")] = None,  # noqa: UP045
    tail: Annotated[Optional[int], typer.Option("--tail", help="Only the last N lines.")] = None,  # noqa: UP045
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
) -> None:
    """Print the logs of the recorded stack."""
    from ci_toolkit.commands.stack import stack_logs as command

    opts = _opts(config, artifacts_dir, project)
    _exit(guarded(lambda: command(opts, service, tail)))  # type: ignore[arg-type]


@stack_app.command("down")
def stack_down(
    config: ConfigOpt = None, artifacts_dir: ArtifactsOpt = None, project: ProjectOpt = None
) -> None:
    """Remove the recorded stack: containers, networks and volumes."""
    from ci_toolkit.commands.stack import stack_down as command

    opts = _opts(config, artifacts_dir, project)
    _exit(guarded(lambda: command(opts)))  # type: ignore[arg-type]


@app.command("migrate")
def migrate(config: ConfigOpt = None, artifacts_dir: ArtifactsOpt = None, project: ProjectOpt = None) -> None:
    """Apply new migrations to the recorded stack."""
    from ci_toolkit.commands.stack import migrate as command

    opts = _opts(config, artifacts_dir, project)
    _exit(guarded(lambda: command(opts)))  # type: ignore[arg-type]


@app.command("test")
def test(
    pytest_args: PytestArgs = None,
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
    json_mode: JsonOpt = False,
) -> None:
    """Run pytest against the recorded stack, with the exported environment."""
    from ci_toolkit.commands.stack import test as command

    opts = _opts(config, artifacts_dir, project, json_mode)
    _exit(guarded(lambda: command(opts, tuple(pytest_args or ()))))  # type: ignore[arg-type]


@app.command("version")
def version() -> None:
    """Print the ci-toolkit version."""
    typer.echo(__version__)
