"""The commands that run tests or migrations: integration-run, migrate, test, soak.

Each callback only turns its options into the arguments of its `ci_toolkit.commands` function
(imported when it runs, never at `--help`) and returns that function's exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ci_toolkit.cli.options import (
    ArtifactsOpt,
    ConfigOpt,
    JsonOpt,
    MatrixEntryOpt,
    ProjectOpt,
    PytestArgs,
    QuietOpt,
    SecretsFileOpt,
    SecretsFromEnvOpt,
    ServiceOpt,
    ShardOpt,
    SuiteOpt,
    TestTimeoutOpt,
    WorkersOpt,
    common_options,
    selection_choice,
)


def integration_run(
    pytest_args: PytestArgs = None,
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the stack running; print how to reach and remove it.")
    ] = False,
    github: Annotated[
        bool | None,
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
    shard: ShardOpt = None,
    service: ServiceOpt = None,
    reuse: Annotated[
        bool | None,
        typer.Option(
            "--reuse/--no-reuse",
            help="Keep the stack as a lease and reuse it next time: no up, no migrations, state reset "
            "to just migrated (default: the config's `reuse`).",
        ),
    ] = None,
    snapshot: Annotated[
        bool | None,
        typer.Option(
            "--snapshot/--no-snapshot",
            help="Start from a snapshot of the migrated stack when one matches; save one after "
            "migrating (default: the config's `snapshot`).",
        ),
    ] = None,
    json_mode: JsonOpt = False,
    quiet: QuietOpt = False,
) -> int:
    """Validate, bring the stack up, wait until ready, migrate, run pytest, collect, tear down."""
    from ci_toolkit.commands.integration_run import integration_run as command

    return command(
        common_options(config, artifacts_dir, project, json_mode, quiet),
        keep=keep,
        pytest_args=tuple(pytest_args or ()),
        github=github,
        diagnostics=diagnostics,
        secrets_from_env=secrets_from_env,
        secrets_file=secrets_file,
        choice=selection_choice(suite, matrix_entry, workers, test_timeout, shard, service),
        reuse=reuse,
        snapshot=snapshot,
    )


def migrate(
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
    json_mode: JsonOpt = False,
) -> int:
    """Apply new migrations to the recorded stack."""
    from ci_toolkit.commands.stack import migrate as command

    return command(common_options(config, artifacts_dir, project, json_mode))


def test(
    pytest_args: PytestArgs = None,
    config: ConfigOpt = None,
    artifacts_dir: ArtifactsOpt = None,
    project: ProjectOpt = None,
    suite: SuiteOpt = None,
    workers: WorkersOpt = None,
    test_timeout: TestTimeoutOpt = None,
    shard: ShardOpt = None,
    secrets_from_env: SecretsFromEnvOpt = False,
    secrets_file: SecretsFileOpt = None,
    json_mode: JsonOpt = False,
) -> int:
    """Run pytest against the recorded stack, with the exported environment."""
    from ci_toolkit.commands.stack import test as command

    return command(
        common_options(config, artifacts_dir, project, json_mode),
        tuple(pytest_args or ()),
        selection_choice(suite, None, workers, test_timeout, shard),
        secrets_from_env=secrets_from_env,
        secrets_file=secrets_file.resolve() if secrets_file else None,
    )


def soak(
    pytest_args: PytestArgs = None,
    duration: Annotated[
        str | None,
        typer.Option("--duration", help="Keep starting iterations for this long: 2h, 90m, 1h30m, 600."),
    ] = None,
    iterations: Annotated[
        int | None,
        typer.Option("--iterations", help="Run this many iterations (with --duration: whichever is first)."),
    ] = None,
    iteration_timeout: Annotated[
        str | None,
        typer.Option("--iteration-timeout", help="Stop an iteration that takes longer (e.g. 10m); it fails."),
    ] = None,
    heartbeat: Annotated[
        str | None,
        typer.Option("--heartbeat", help="Print a heartbeat line this often (default 60s)."),
    ] = None,
    metrics: Annotated[
        Path | None,
        typer.Option("--metrics", help="Append one JSON line per iteration here (default: in the soak dir)."),
    ] = None,
    reuse_stack: Annotated[
        bool | None,
        typer.Option(
            "--reuse-stack/--fresh-stack",
            help="One stack, migrations once, tests repeated (default: a fresh stack per iteration).",
        ),
    ] = None,
    fail_fast: Annotated[
        bool | None,
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
) -> int:
    """Repeat the integration run (fresh stack each time) and report pass rate, timings, flaky tests,
    leaks and disk growth. Defaults come from [soak] in the config."""
    from ci_toolkit.commands.soak import SoakArgs
    from ci_toolkit.commands.soak import soak as command

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
    return command(
        common_options(config, artifacts_dir, project, json_mode, quiet),
        args,
        selection_choice(suite, matrix_entry, workers, test_timeout),
    )
