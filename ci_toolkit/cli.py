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
secrets_app = typer.Typer(
    help="Check the [secrets] a run needs (names and sources, never values).", no_args_is_help=True
)
app.add_typer(config_app, name="config")
app.add_typer(env_app, name="env")
app.add_typer(stack_app, name="stack")
app.add_typer(secrets_app, name="secrets")
report_app = typer.Typer(help="Combine the results of several runs (matrix cells).", no_args_is_help=True)
app.add_typer(report_app, name="report")

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
SecretsFromEnvOpt = Annotated[
    bool,
    typer.Option("--secrets-from-env", help="Take [secrets] from the environment, not SSM (offline)."),
]
SecretsFileOpt = Annotated[
    Path | None,
    typer.Option("--secrets-file", help="Take [secrets] from a .env-style KEY=VALUE file, not SSM."),
]
PytestArgs = Annotated[Optional[list[str]], typer.Argument(help="Extra pytest arguments, after `--`.")]  # noqa: UP045
SuiteOpt = Annotated[
    str | None,
    typer.Option(
        "--suite",
        envvar="CI_TOOLKIT_SUITE",
        help="Run only this named suite ([suites] in config: a pytest -m expression).",
    ),
]
WorkersOpt = Annotated[
    str | None, typer.Option("--workers", help="Run tests in N processes (pytest-xdist): a number or auto.")
]
TestTimeoutOpt = Annotated[
    float | None,
    typer.Option("--test-timeout", help="Fail any single test that runs longer (seconds; pytest-timeout)."),
]
MatrixEntryOpt = Annotated[
    str | None,
    typer.Option(
        "--matrix-entry",
        envvar="CI_TOOLKIT_MATRIX_ENTRY",
        help='Run one cell of [matrix], as JSON: \'{"POSTGRES_IMAGE": "postgres:17"}\' (a whole cell '
        "from `ci-toolkit matrix` works too).",
    ),
]


def _choice(
    suite: str | None,
    matrix_entry: str | None = None,
    workers: str | None = None,
    timeout: float | None = None,
) -> object:
    from ci_toolkit.pipeline.selection import Choice

    return Choice(suite, matrix_entry, workers, timeout)


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
    github: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option(
            "--github/--no-github",
            help="GitHub Actions output: log groups, annotations, job summary, step outputs "
            "(default: on when GITHUB_ACTIONS=true).",
        ),
    ] = None,
    diagnostics: Annotated[
        str,
        typer.Option(
            "--diagnostics",
            help="When to write the diagnostics bundle (SUMMARY.md, inspect, events, commands): "
            "on-failure or always.",
        ),
    ] = "on-failure",
    secrets_from_env: SecretsFromEnvOpt = False,
    secrets_file: SecretsFileOpt = None,
    suite: SuiteOpt = None,
    matrix_entry: MatrixEntryOpt = None,
    workers: WorkersOpt = None,
    test_timeout: TestTimeoutOpt = None,
    json_mode: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Validate, bring the stack up, wait until ready, migrate, run pytest, collect, tear down."""
    from ci_toolkit.commands.integration_run import integration_run as command

    opts = _opts(config, artifacts_dir, project, json_mode, quiet)
    args = tuple(pytest_args or ())
    _exit(
        guarded(
            lambda: command(
                opts,  # type: ignore[arg-type]
                keep=keep,
                pytest_args=args,
                github=github,
                diagnostics=diagnostics,
                secrets_from_env=secrets_from_env,
                secrets_file=secrets_file,
                choice=_choice(suite, matrix_entry, workers, test_timeout),  # type: ignore[arg-type]
            )
        )
    )


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


@secrets_app.command("check")
def secrets_check(
    config: ConfigOpt = None,
    secrets_from_env: SecretsFromEnvOpt = False,
    secrets_file: SecretsFileOpt = None,
    json_mode: JsonOpt = False,
) -> None:
    """Resolve every secret and list which resolve, from where; exit code 10/11/12 per error."""
    from ci_toolkit.commands.secrets import secrets_check as command

    opts = _opts(config, json_mode=json_mode)
    _exit(guarded(lambda: command(opts, from_env=secrets_from_env, file=secrets_file)))  # type: ignore[arg-type]


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


@stack_app.command("prune")
def stack_prune(
    older_than: Annotated[
        float,
        typer.Option(
            "--older-than", help="Kept stacks and other hosts' stacks older than this many hours go too."
        ),
    ] = 24.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be removed.")] = False,
    json_mode: JsonOpt = False,
) -> None:
    """Remove stacks whose owning run is gone (killed, crashed).

    A live run's stack is never touched; kept stacks (stack up, --keep) and other hosts'
    stacks go once they are older than --older-than.
    """
    from ci_toolkit.commands.stack import stack_prune as command

    _exit(guarded(lambda: command(older_than, dry_run=dry_run, json_mode=json_mode)))


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
    suite: SuiteOpt = None,
    workers: WorkersOpt = None,
    test_timeout: TestTimeoutOpt = None,
    secrets_from_env: SecretsFromEnvOpt = False,
    secrets_file: SecretsFileOpt = None,
    json_mode: JsonOpt = False,
) -> None:
    """Run pytest against the recorded stack, with the exported environment."""
    from ci_toolkit.commands.stack import test as command

    opts = _opts(config, artifacts_dir, project, json_mode)
    choice = _choice(suite, None, workers, test_timeout)
    args = tuple(pytest_args or ())
    secrets_path = secrets_file.resolve() if secrets_file else None
    _exit(
        guarded(
            lambda: command(
                opts,  # type: ignore[arg-type]
                args,
                choice,  # type: ignore[arg-type]
                secrets_from_env=secrets_from_env,
                secrets_file=secrets_path,
            )
        )
    )


@app.command("version")
def version() -> None:
    """Print the ci-toolkit version."""
    typer.echo(__version__)


@app.command("matrix")
def matrix(
    only: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option("--only", help="Keep only cells with KEY=VALUE (repeatable), e.g. --only suite=full."),
    ] = None,
    config: ConfigOpt = None,
    pretty: Annotated[bool, typer.Option("--pretty", help="Indent the JSON (for reading, not CI).")] = False,
) -> None:
    """Print the [matrix] cells as JSON for a workflow's `strategy.matrix: ${{ fromJSON(...) }}`."""
    from ci_toolkit.commands.matrix import matrix as command

    opts = _opts(config)
    _exit(guarded(lambda: command(opts, tuple(only or ()), pretty=pretty)))  # type: ignore[arg-type]


@report_app.command("merge")
def report_merge(
    dirs: Annotated[
        list[Path], typer.Argument(help="Run artifacts dirs (junit.xml + run.json), or dirs holding them.")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the Markdown summary to this file.")
    ] = None,
    json_mode: JsonOpt = False,
) -> None:
    """Merge matrix cells' results into one Markdown summary; exit 1 if any cell failed.

    The summary goes to stdout, to --output, and to $GITHUB_STEP_SUMMARY when that is set.
    """
    from ci_toolkit.commands.report import merge as command

    _exit(guarded(lambda: command(tuple(dirs), output=output, json_mode=json_mode)))


@app.command("soak")
def soak(
    pytest_args: PytestArgs = None,
    duration: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--duration", help="Keep starting iterations for this long: 2h, 90m, 1h30m, 600."),
    ] = None,
    iterations: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--iterations", help="Run this many iterations (with --duration: whichever is first)."),
    ] = None,
    iteration_timeout: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--iteration-timeout", help="Stop an iteration that takes longer (e.g. 10m); it fails."),
    ] = None,
    heartbeat: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--heartbeat", help="Print a heartbeat line this often (default 60s)."),
    ] = None,
    metrics: Annotated[
        Path | None,
        typer.Option("--metrics", help="Append one JSON line per iteration here (default: in the soak dir)."),
    ] = None,
    reuse_stack: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option(
            "--reuse-stack/--fresh-stack",
            help="One stack, migrations once, tests repeated (default: a fresh stack per iteration).",
        ),
    ] = None,
    fail_fast: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option("--fail-fast/--keep-going", help="Stop at the first failed iteration."),
    ] = None,
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
    suite: SuiteOpt = None,
    matrix_entry: MatrixEntryOpt = None,
    workers: WorkersOpt = None,
    test_timeout: TestTimeoutOpt = None,
    json_mode: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Repeat the integration run (fresh stack each time) and report pass rate, timings, flaky tests,
    leaks and disk growth. Defaults come from [soak] in the config."""
    from ci_toolkit.commands.soak import SoakArgs
    from ci_toolkit.commands.soak import soak as command

    opts = _opts(config, artifacts_dir, project, json_mode, quiet)
    args = SoakArgs(
        duration=duration,
        iterations=iterations,
        iteration_timeout=iteration_timeout,
        heartbeat=heartbeat,
        metrics=metrics,
        reuse_stack=reuse_stack,
        fail_fast=fail_fast,
        pytest_args=tuple(pytest_args or ()),
    )
    choice = _choice(suite, matrix_entry, workers, test_timeout)
    _exit(guarded(lambda: command(opts, args, choice)))  # type: ignore[arg-type]
