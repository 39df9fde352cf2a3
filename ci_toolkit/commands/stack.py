"""Tier 3: each pipeline step alone. `stack up|wait|ps|logs|down`, `migrate`, `test`.

`stack up` records the stack in `<artifacts_dir>/stack.json`; the others find it there
(or take `--project`), so a developer can bring a stack up once and iterate on tests.
"""

from __future__ import annotations

from pathlib import Path

from ci_toolkit.commands.common import CommonOptions, attach, emit_json, new_run
from ci_toolkit.errors import ExitCode
from ci_toolkit.pipeline import endpoints, selection
from ci_toolkit.pipeline import saved_stack as state
from ci_toolkit.pipeline import sequence as pipeline
from ci_toolkit.stack import compose


def stack_up(opts: CommonOptions, *, wait: bool) -> int:
    run = new_run(opts, keep=True)  # labels it as kept: `stack prune` leaves it to the TTL
    teardown_on_failure = True
    with run.guard.installed():
        try:
            run.timed("validate", pipeline.validate)
            run.timed("up", pipeline.up)
            if wait:
                run.timed("ready", pipeline.ready)
            teardown_on_failure = False
        finally:
            if teardown_on_failure and run.stack is not None:
                run.guard.teardown()  # a second Ctrl-C now only forces it
                pipeline.down(run)
    assert run.stack is not None
    state.save(state.path_for(run.config, opts.artifacts_dir), state.SavedStack(run.stack, run.run_id))
    run.reporter.line(f"stack {run.project} is up; `ci-toolkit stack down` removes it", always=True)
    _print_services(run, opts)
    return 0


def stack_wait(opts: CommonOptions) -> int:
    run, _ = attach(opts)
    import time

    run.up_started = time.monotonic()
    with run.guard.installed():
        run.timed("ready", pipeline.ready)
    _print_services(run, opts)
    return 0


def stack_ps(opts: CommonOptions) -> int:
    run, _ = attach(opts)
    rows = compose.ps_json(run.stack) if run.stack else []
    if opts.json_mode:
        emit_json({"project": run.project, "containers": rows})
        return 0
    for row in rows:
        run.reporter.line(
            f"{row.get('Service', ''):<16} {row.get('State', ''):<10} {row.get('Status', '')}", always=True
        )
    return 0


def stack_logs(opts: CommonOptions, service: str | None, tail: int | None) -> int:
    run, _ = attach(opts)
    assert run.stack is not None
    run.reporter.line(compose.logs(run.stack, service, tail).rstrip(), always=True)
    return 0


def stack_down(opts: CommonOptions) -> int:
    config = opts.load_config()
    state_file = state.path_for(config, opts.artifacts_dir)
    saved = state.load(config, state_file, opts.project)
    compose.down(saved.stack, timeout=config.timeouts.down)
    state.forget(state_file, saved.stack.project)
    opts.reporter().line(f"stack {saved.stack.project} removed (containers, networks, volumes)", always=True)
    return 0


def stack_prune(older_than: float, *, dry_run: bool, json_mode: bool) -> int:
    from ci_toolkit.output.console import make_reporter
    from ci_toolkit.stack import prune
    from ci_toolkit.stack.engine import Engine

    reporter = make_reporter(json_mode=json_mode, quiet=False)
    decisions = prune.prune(Engine.connect(), older_than, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for d in decisions:
        reporter.line(f"{verb if d.stale else 'kept'} {d.stack.project}: {d.reason}", always=True)
    if not decisions:
        reporter.line("no ci-toolkit stacks on this engine", always=True)
    if json_mode:
        emit_json({"dry_run": dry_run, "stacks": [d.to_dict() for d in decisions]})
    return 0


def migrate(opts: CommonOptions) -> int:
    run, _ = attach(opts)
    pipeline.discover(run)
    with run.guard.installed():
        run.timed("migrate", pipeline.migrate)
    return 0


def test(
    opts: CommonOptions,
    pytest_args: tuple[str, ...],
    choice: selection.Choice | None = None,
    *,
    secrets_from_env: bool = False,
    secrets_file: Path | None = None,
) -> int:
    run, _ = attach(opts)
    run.options = pipeline.RunOptions(
        artifacts_dir=opts.artifacts_dir,
        project=run.project,
        pytest_args=pytest_args,
        secrets_from_env=secrets_from_env,
        secrets_file=secrets_file,
    )
    selection.apply_to(run, choice or selection.Choice())  # --suite, --workers, --test-timeout
    run.env.update(run.options.env)
    pipeline.discover(run)
    with run.guard.installed():  # SIGINT/SIGTERM: pytest gets the signal and a grace period
        run.timed("secrets", pipeline.fetch_secrets)  # same [secrets] as a whole run, never on disk
        run.timed("test", pipeline.test)
    assert run.test_run is not None
    counts = run.test_run.counts
    run.reporter.line(
        f"tests: {counts.passed} passed, {counts.failed} failed, {counts.errors} errors, "
        f"{counts.skipped} skipped; JUnit XML in {run.run_dir / 'junit.xml'}",
        always=True,
    )
    if opts.json_mode:
        emit_json(
            {
                "tests": counts.to_dict(),
                "coverage_percent": run.test_run.coverage_percent,
                "artifacts_dir": str(run.run_dir),
            }
        )
    return ExitCode.OK if run.test_run.exit_code == 0 else ExitCode.TESTS_FAILED


def _print_services(run: pipeline.Run, opts: CommonOptions) -> None:
    for line in endpoints.describe(run.config, run.services, run.env):
        run.reporter.line(line, always=True)
    if opts.json_mode:
        emit_json(
            {
                "project": run.project,
                "services": {n: s.to_dict() for n, s in run.services.items()},
                "export": {n: run.env[n] for n in run.config.export if n in run.env},
            }
        )
