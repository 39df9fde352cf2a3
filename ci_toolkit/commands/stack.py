"""Tier 3: each pipeline step alone. `stack up|wait|ps|logs|down`, `migrate`, `test`.

`stack up` records the stack in `<artifacts_dir>/stack.json`; the others find it there
(or take `--project`), so a developer can bring a stack up once and iterate on tests.
"""

from __future__ import annotations

from pathlib import Path

from ci_toolkit.commands.common import CommonOptions, attach, emit_json, plan_run
from ci_toolkit.errors import ExitCode
from ci_toolkit.pipeline import endpoints, selection, sequence
from ci_toolkit.stack import compose


def stack_up(opts: CommonOptions, *, wait: bool, choice: selection.Choice | None = None) -> int:
    ctx = plan_run(opts, keep=True, choice=choice)  # kept: `stack prune` leaves it to the TTL
    with ctx.guard.installed():
        seq = sequence.start(ctx, wait=wait)
    ctx.reporter.line(f"stack {ctx.project} is up; `ci-toolkit stack down` removes it", always=True)
    _print_services(seq, opts)
    return 0


def stack_wait(opts: CommonOptions) -> int:
    seq = attach(opts)
    with seq.ctx.guard.installed():
        seq.step("ready")
    _print_services(seq, opts)
    return 0


def stack_ps(opts: CommonOptions) -> int:
    seq = attach(opts)
    rows = compose.ps_json(seq.state.stack) if seq.state.stack else []
    if opts.json_mode:
        emit_json({"project": seq.ctx.project, "containers": rows})
        return 0
    for row in rows:
        seq.ctx.reporter.line(
            f"{row.get('Service', ''):<16} {row.get('State', ''):<10} {row.get('Status', '')}", always=True
        )
    return 0


def stack_logs(opts: CommonOptions, service: str | None, tail: int | None) -> int:
    seq = attach(opts)
    assert seq.state.stack is not None
    logs = compose.logs(seq.state.stack, service, tail).rstrip()
    if opts.json_mode:  # the logs inside the object, not beside it: stdout stays one JSON line
        emit_json({"project": seq.ctx.project, "service": service, "tail": tail, "logs": logs})
        return 0
    seq.ctx.reporter.line(logs, always=True)
    return 0


def stack_down(opts: CommonOptions) -> int:
    seq = attach(opts)
    with seq.ctx.guard.installed():
        sequence.remove(seq)  # the pipeline's own teardown: compose down, then leftovers by label
    seq.ctx.reporter.line(f"stack {seq.ctx.project} removed (containers, networks, volumes)", always=True)
    if opts.json_mode:
        emit_json({"project": seq.ctx.project, "removed": True, "phases": _phases(seq)})
    return 0


def stack_prune(older_than: float, *, dry_run: bool, json_mode: bool) -> int:
    from ci_toolkit.output.console import make_reporter
    from ci_toolkit.reuse import lease
    from ci_toolkit.stack import prune
    from ci_toolkit.stack.engine import Engine

    reporter = make_reporter(json_mode=json_mode, quiet=False)
    with lease.idle_held() as leases:  # judged by idle time, never while a run holds it
        decisions = prune.prune(Engine.connect(), older_than, dry_run=dry_run, leases=leases)
        if not dry_run:
            for d in decisions:
                if d.stale and d.stack.project in leases:
                    lease.drop(d.stack.project)
    verb = "would remove" if dry_run else "removed"
    for d in decisions:
        reporter.line(f"{verb if d.stale else 'kept'} {d.stack.project}: {d.reason}", always=True)
    if not decisions:
        reporter.line("no ci-toolkit stacks on this engine", always=True)
    if json_mode:
        emit_json({"dry_run": dry_run, "stacks": [d.to_dict() for d in decisions]})
    return 0


def migrate(opts: CommonOptions) -> int:
    seq = attach(opts)
    seq.discover()
    with seq.ctx.guard.installed():
        seq.step("migrate")
    if opts.json_mode:
        phase = seq.timeline.phases[-1]
        emit_json(
            {
                "project": seq.ctx.project,
                "applied": list(seq.state.migrations_applied),
                "detail": phase.detail,
                "seconds": round(phase.seconds, 3),
            }
        )
    return 0


def test(
    opts: CommonOptions,
    pytest_args: tuple[str, ...],
    choice: selection.Choice | None = None,
    *,
    secrets_from_env: bool = False,
    secrets_file: Path | None = None,
) -> int:
    seq = attach(
        opts,
        choice=choice,  # --suite, --workers, --test-timeout
        pytest_args=pytest_args,
        secrets_from_env=secrets_from_env,
        secrets_file=secrets_file,
    )
    seq.discover()
    with seq.ctx.guard.installed():  # SIGINT/SIGTERM: pytest gets the signal and a grace period
        seq.run(("secrets", "test"))  # same [secrets] as a whole run, never on disk
    test_run = seq.state.test_run
    assert test_run is not None
    counts = test_run.counts
    seq.ctx.reporter.line(
        f"tests: {counts.describe()}; JUnit XML in {seq.ctx.run_dir / 'junit.xml'}",
        always=True,
    )
    if opts.json_mode:
        emit_json(
            {
                "tests": counts.to_dict(),
                "coverage_percent": test_run.coverage_percent,
                "artifacts_dir": str(seq.ctx.run_dir),
            }
        )
    return ExitCode.OK if test_run.exit_code == 0 else ExitCode.TESTS_FAILED


def _phases(seq: sequence.Sequence) -> list[dict[str, object]]:
    return [phase.to_dict() for phase in seq.timeline.phases]


def _print_services(seq: sequence.Sequence, opts: CommonOptions) -> None:
    ctx, state = seq.ctx, seq.state
    for line in endpoints.describe(ctx.config, state.services, state.env):
        ctx.reporter.line(line, always=True)
    if opts.json_mode:
        emit_json(
            {
                "project": ctx.project,
                "services": {n: s.to_dict() for n, s in state.services.items()},
                "export": {n: state.env[n] for n in ctx.config.export if n in state.env},
            }
        )
