"""`ci-toolkit history ...`, `badge ...` and `report issue` callbacks: parse and dispatch only.

The store is `--store` (a directory or s3://bucket/prefix), else `[history] store` in the config;
`--last N` defaults to `[history] last`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from ci_toolkit.cli.options import ConfigOpt, JsonOpt

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="The history store: a directory or s3://bucket/prefix (default: [history] store in the config).",
    ),
]
LastOpt = Annotated[
    int | None,
    typer.Option("--last", "-n", min=1, help="Only the newest N runs (default: [history] last, 30)."),
]
BranchOpt = Annotated[str | None, typer.Option("--branch", help="Only runs of this branch.")]


def history_record(
    run_dir: Annotated[Path, typer.Argument(help="A finished run's artifacts dir (holding run.json).")],
    store: StoreOpt = None,
    commit: Annotated[
        str | None, typer.Option("--commit", help="The commit it ran (default: $GITHUB_SHA, else git).")
    ] = None,
    branch: Annotated[
        str | None,
        typer.Option("--branch", help="Its branch (default: $GITHUB_HEAD_REF/$GITHUB_REF_NAME, else git)."),
    ] = None,
    config: ConfigOpt = None,
    json_mode: JsonOpt = False,
) -> int:
    """Record a finished run (run.json, junit.xml, coverage, durations, phases) in the store."""
    from ci_toolkit.commands.history import record as command

    return command(run_dir, store=store, config=config, commit=commit, branch=branch, json_mode=json_mode)


def history_flaky(
    last: LastOpt = None,
    branch: BranchOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    json_mode: JsonOpt = False,
) -> int:
    """Tests that failed and passed on the same commit, passed only on a rerun, or keep flipping."""
    from ci_toolkit.commands.history import flaky as command

    return command(store=store, config=config, last=last, branch=branch, json_mode=json_mode)


def history_slowest(
    last: LastOpt = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many tests.")] = 20,
    branch: BranchOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    json_mode: JsonOpt = False,
) -> int:
    """The slowest tests by median time over the runs that ran them."""
    from ci_toolkit.commands.history import slowest as command

    return command(store=store, config=config, last=last, branch=branch, top=top, json_mode=json_mode)


def history_trend(
    last: LastOpt = None,
    branch: BranchOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    json_mode: JsonOpt = False,
) -> int:
    """Pass rate, per-phase p50/p95 and coverage over the newest runs."""
    from ci_toolkit.commands.history import trend as command

    return command(store=store, config=config, last=last, branch=branch, json_mode=json_mode)


def history_durations(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the ledger here (default: stdout).")
    ] = None,
    last: LastOpt = None,
    branch: BranchOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    json_mode: JsonOpt = False,
) -> int:
    """The durations ledger the shard planner reads (durations.json), from the recorded runs."""
    from ci_toolkit.commands.history import durations as command

    return command(store=store, config=config, last=last, branch=branch, output=output, json_mode=json_mode)


def history_html(
    out: Annotated[Path, typer.Argument(help="The HTML file to write.")],
    last: LastOpt = None,
    branch: BranchOpt = None,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    json_mode: JsonOpt = False,
) -> int:
    """One static page: trend charts (phase times, pass rate, coverage), flaky and slowest tests."""
    from ci_toolkit.commands.history import html as command

    return command(out, store=store, config=config, last=last, branch=branch, json_mode=json_mode)


def _badge(kind: str) -> Callable[..., int]:
    def callback(
        out: Annotated[Path, typer.Option("--out", "-o", help="The SVG file to write.")],
        from_dir: Annotated[
            Path | None,
            typer.Option("--from", help="A run's artifacts dir (default: the store's newest runs)."),
        ] = None,
        last: LastOpt = None,
        branch: Annotated[
            str | None,
            typer.Option("--branch", help="Only the store's runs of this branch (not with --from)."),
        ] = None,
        store: StoreOpt = None,
        config: ConfigOpt = None,
        json_mode: JsonOpt = False,
    ) -> int:
        from ci_toolkit.commands.badge import badge as command

        return command(
            kind,
            out,
            from_dir=from_dir,
            store=store,
            config=config,
            last=last,
            branch=branch,
            json_mode=json_mode,
        )

    callback.__doc__ = {
        "coverage": "A coverage badge (red < 50 % ≤ orange < 80 % ≤ yellow < 90 % ≤ green).",
        "tests": "A tests badge: passed/total of the newest run, all its shards and cells "
        "(green all passed, red any failed).",
        "flaky": "A flaky-tests badge: tests the recent runs show flaky (green 0, orange 1-2, red 3+).",
    }[kind]
    return callback


badge_coverage = _badge("coverage")
badge_tests = _badge("tests")
badge_flaky = _badge("flaky")


def report_issue(
    run_dir: Annotated[Path, typer.Argument(help="The failed run's artifacts dir (or a merged report's).")],
    workflow: Annotated[
        str | None, typer.Option("--workflow", help="Workflow name (default: $GITHUB_WORKFLOW).")
    ] = None,
    branch: Annotated[
        str | None,
        typer.Option("--branch", help="Branch (default: $GITHUB_HEAD_REF, else $GITHUB_REF_NAME)."),
    ] = None,
    run_url: Annotated[
        str | None,
        typer.Option(
            "--run-url",
            help="The run's page (default: from $GITHUB_SERVER_URL, $GITHUB_REPOSITORY, $GITHUB_RUN_ID).",
        ),
    ] = None,
    label: Annotated[
        str, typer.Option("--label", help="The label that finds the open issue.")
    ] = "ci-toolkit-failure",
    body_out: Annotated[
        Path | None, typer.Option("--body-out", help="Also write the issue body (Markdown) here.")
    ] = None,
    gh: Annotated[
        bool,
        typer.Option(
            "--gh/--print", help="Open or comment with `gh` (default: print the body and the gh command)."
        ),
    ] = False,
    store: StoreOpt = None,
    config: ConfigOpt = None,
    json_mode: JsonOpt = False,
) -> int:
    """One issue per workflow and branch for a failed scheduled run: open it, or comment on the open one."""
    from ci_toolkit.commands.report_issue import issue as command

    return command(
        run_dir,
        workflow=workflow,
        branch=branch,
        run_url=run_url,
        label=label,
        body_out=body_out,
        use_gh=gh,
        store=store,
        config=config,
        json_mode=json_mode,
    )
