"""`stack leases` and `stack down --lease`: the stacks kept between runs by `--reuse`."""

from __future__ import annotations

import time

from ci_toolkit.commands.common import CommonOptions, emit_json
from ci_toolkit.errors import UsageError
from ci_toolkit.pipeline import checks, context, saved_stack, sequence
from ci_toolkit.pipeline.context import RunOptions
from ci_toolkit.reuse import lease
from ci_toolkit.reuse.paths import leases_dir
from ci_toolkit.stack.compose import Stack


def stack_leases(*, json_mode: bool) -> int:
    reporter = CommonOptions(json_mode=json_mode).reporter()
    found = lease.listing()
    now = time.time()
    for info in found:
        record = info.record
        idle = f"idle {(now - record.last_used) / 60:.0f} min" if record else "no record"
        state = (
            f"in use by pid {info.holder}"
            if info.holder
            else ("ready" if record and record.baseline else "not ready")
        )
        where = record.root if record else "?"
        reporter.line(f"{info.name:<40} {state:<20} {idle:<14} {where}", always=True)
    if not found:
        reporter.line(f"no leases (kept in {leases_dir()})", always=True)
    if json_mode:
        emit_json({"leases": [info.to_dict() for info in found]})
    return 0


def lease_down(opts: CommonOptions) -> int:
    """Remove this config's lease (its stack and record); refused while a run holds it."""
    config = opts.load_config()
    name = lease.name_for(config)
    ctx = context.plan(config, RunOptions(artifacts_dir=opts.artifacts_dir, reuse=True), opts.reporter())
    if ctx.lease is None:
        raise UsageError(
            f"lease {name} is in use by a running integration-run (pid {lease.holder(name)})",
            hint="let that run finish (or stop it), then run `ci-toolkit stack down --lease` again",
        )
    try:
        stack = Stack(name, config.compose_files, config.profiles, config.root, dict(config.env_defaults))
        saved = saved_stack.SavedStack(stack, "lease")
        seq = sequence.attach(ctx, saved, {**checks.resolve_env(config).values})
        with ctx.guard.installed():
            sequence.remove(seq)  # compose down, then anything labelled
        ctx.lease.discard()
    finally:
        ctx.release_lease()
    ctx.reporter.line(f"lease {name} removed (containers, networks, volumes)", always=True)
    return 0
