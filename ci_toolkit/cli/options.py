"""Every option more than one command takes, declared once, and the objects they become.

The command modules are imported lazily (at call time, not at `--help`), so `CommonOptions`
and `Choice` are imported for type checking only and again inside the functions that build them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ci_toolkit.commands.common import CommonOptions
    from ci_toolkit.pipeline.selection import Choice

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $CI_TOOLKIT_CONFIG, else the nearest ci-toolkit.toml or "
        "pyproject.toml [tool.ci-toolkit] from here up to the repository root).",
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
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Print every command ci-toolkit runs, with its time and exit code, to stderr "
        "(redacted; also CI_TOOLKIT_VERBOSE=1).",
    ),
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
PytestArgs = Annotated[list[str] | None, typer.Argument(help="Extra pytest arguments, after `--`.")]
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
ShardOpt = Annotated[
    str | None,
    typer.Option(
        "--shard",
        envvar="CI_TOOLKIT_SHARD",
        help="Run only shard K of N (K/N, e.g. 2/4), split by recorded durations (see `shard plan`).",
    ),
]
ServiceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--service",
        metavar="NAME",
        help="Start only this compose service and what it depends on (repeatable; replaces `start`).",
    ),
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


def common_options(
    config: Path | None,
    artifacts_dir: Path | None = None,
    project: str | None = None,
    json_mode: bool = False,
    quiet: bool = False,
) -> CommonOptions:
    from ci_toolkit.commands.common import CommonOptions

    return CommonOptions(config, artifacts_dir, project, json_mode, quiet)


def selection_choice(
    suite: str | None,
    matrix_entry: str | None = None,
    workers: str | None = None,
    test_timeout: float | None = None,
    shard: str | None = None,
    services: list[str] | None = None,
) -> Choice:
    from ci_toolkit.pipeline.selection import Choice

    return Choice(suite, matrix_entry, workers, test_timeout, shard, tuple(services or ()))
