"""`ci-toolkit init`: write a repository's setup (all or nothing, then `config check` on it), show
it (`--dry-run`), or say whether it drifted (`--check`, exit 1)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ci_toolkit.commands.common import emit_json
from ci_toolkit.errors import CiToolkitError, ExitCode
from ci_toolkit.onboard import changes, verify
from ci_toolkit.onboard import plan as planner
from ci_toolkit.onboard.model import InitOptions
from ci_toolkit.output.console import make_reporter
from ci_toolkit.signals import SignalGuard

DRIFT = 1  # `--check`: what init would write differs from what is there


def init(
    root: Path, options: InitOptions, *, dry_run: bool = False, check: bool = False,
    json_mode: bool = False, quiet: bool = False,
) -> int:  # fmt: skip
    reporter = make_reporter(json_mode=json_mode, quiet=quiet)
    plan = planner.plan(root, options)
    names = [c.path.relative_to(plan.root).as_posix() for c in plan.pending]
    for note in plan.notes:
        reporter.line(f"  {note}")
    result = {
        "root": str(plan.root),
        "config": str(plan.config_path),
        "files": names,
        "notes": list(plan.notes),
    }
    if not names:
        reporter.line(f"{plan.root}: already set up by ci-toolkit init; nothing to change", always=True)
        return _done(json_mode, {"status": "unchanged", **result}, 0)
    if check or dry_run:
        text = changes.diff(plan)
        if not json_mode:
            sys.stdout.write(text)
            sys.stdout.flush()
        if check:
            reporter.line(f"{plan.root}: {len(names)} file(s) differ from what ci-toolkit init writes: "
                          f"{', '.join(names)}", always=True)  # fmt: skip
            reporter.line("  run `ci-toolkit init` to update them (`--dry-run` shows the diff)", always=True)
            return _done(json_mode, {"status": "drift", "diff": text, **result}, DRIFT)
        reporter.line(f"dry run: {len(names)} file(s) would change; nothing written", always=True)
        return _done(json_mode, {"status": "dry_run", "diff": text, **result}, 0)
    changes.apply(plan)
    try:
        services = verify.config_check(plan.config_path)
    except CiToolkitError as exc:
        changes.restore(plan)
        exc.message = f"config check failed on what init wrote, so every file was put back:\n  {exc.message}"
        raise
    for name in names:
        reporter.line(f"wrote {name}", always=True)
    reporter.line(f"config check: ok ({len(services)} compose services: {', '.join(services)})", always=True)
    reporter.line(
        "next: ci-toolkit integration-run   (commit the files to run it in GitHub Actions)", always=True
    )
    return _done(json_mode, {"status": "written", "services": list(services), **result}, 0)


def _done(json_mode: bool, data: dict[str, object], code: int) -> int:
    if json_mode:
        emit_json(data)
    return code


def init_batch(
    repos: Path, options: InitOptions, *, concurrency: int, branch: str, push: bool, dry_run: bool,
    workdir: Path | None, json_mode: bool, quiet: bool,
) -> int:  # fmt: skip
    """Exit 0 when every repository was onboarded (or already was); 9 when any failed or was
    rolled back (the table says which and why)."""
    from ci_toolkit.onboard import batch_run as batch
    from ci_toolkit.onboard import batch_table as batch_report

    remotes = batch.read_repos(repos)
    reporter = make_reporter(json_mode=json_mode, quiet=quiet)
    settings = batch.BatchOptions(concurrency, branch, push, dry_run, workdir, options)
    finished = 0
    started = time.monotonic()

    def heard(result: batch.RepoResult) -> None:
        nonlocal finished
        finished += 1
        reporter.line(batch_report.progress(result, finished, len(remotes)))

    reporter.line(f"onboarding {len(remotes)} repositories, {concurrency} at a time, on branch {branch}"
                  + (" (dry run)" if dry_run else "" if push else " (not pushed: --push)"))  # fmt: skip
    guard = SignalGuard()  # also where SIGINT was ignored (started in the background): Ctrl-C, TERM, HUP
    with guard.installed(), guard.step():
        results = batch.run(remotes, settings, heard)
    seconds = time.monotonic() - started
    for line in batch_report.table(results, seconds):
        reporter.line(line, always=True)
    if json_mode:
        emit_json(batch_report.as_json(results, seconds))
    return 0 if all(r.ok for r in results) else ExitCode.ONBOARD
