"""`stack leases` and `stack down --lease`: the stacks kept between runs by `--reuse`."""

from __future__ import annotations

import time

from ci_toolkit.commands.common import CommonOptions, emit_json
from ci_toolkit.errors import UsageError
from ci_toolkit.pipeline import sequence
from ci_toolkit.reuse import lease
from ci_toolkit.reuse.paths import leases_dir


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
    if opts.project:
        raise UsageError(
            "--lease and --project exclude each other: --lease removes this config's lease",
            hint="`ci-toolkit stack leases` lists the leases; `stack down --project NAME` removes one stack",
        )
    config = opts.load_config()
    name = sequence.remove_lease(config, opts.artifacts_dir, opts.reporter())
    opts.reporter().line(f"lease {name} removed (containers, networks, volumes)", always=True)
    if opts.json_mode:
        emit_json({"lease": name, "removed": True})
    return 0
