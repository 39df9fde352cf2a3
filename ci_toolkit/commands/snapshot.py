"""`snapshot key|save|load|prune|list`: snapshots of the migrated stack, for cold CI runs.

`key` prints the stack's identity (an actions/cache key); `save DIR` / `load DIR` move the
snapshot for that identity as one checksummed archive, so actions/cache can carry it between
runs; `prune --keep N` bounds the local store, least recently used first.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

from ci_toolkit.commands.common import CommonOptions, emit_json, plan_run
from ci_toolkit.errors import UsageError
from ci_toolkit.output import github
from ci_toolkit.pipeline import sequence
from ci_toolkit.reuse import snapshot
from ci_toolkit.reuse.identity import Identity


def identity(opts: CommonOptions) -> Identity:
    """The identity a run of this config would have now (validates config, env and compose)."""
    ctx = plan_run(replace(opts, quiet=True), snapshot=True)  # stdout: the key alone
    seq = sequence.Sequence(ctx)
    with ctx.guard.installed():
        seq.step("validate")
    assert seq.state.identity is not None
    return seq.state.identity


def snapshot_key(opts: CommonOptions, *, restore_prefix: bool, github_output: bool = False) -> int:
    ident = identity(opts)
    key = ident.key
    prefix = key.removesuffix(ident.migrations_key)
    if github_output:
        out, temp = os.environ.get("GITHUB_OUTPUT"), os.environ.get("RUNNER_TEMP", tempfile.gettempdir())
        if not out:
            raise UsageError("--github-output: GITHUB_OUTPUT is not set (it is, in a GitHub Actions step)")
        directory = str(Path(temp) / "ci-toolkit-snapshot")
        github.write_outputs(Path(out), {"key": key, "restore-prefix": prefix, "dir": directory})
    if opts.json_mode:
        emit_json({"key": key, "restore_prefix": prefix, "identity": ident.public_dict()})
    else:
        opts.reporter().line(prefix if restore_prefix else key, always=True)
    return 0


def snapshot_save(opts: CommonOptions, directory: Path, *, github_output: bool = False) -> int:
    """Export the snapshot for the current key, only if it holds exactly the current migrations:
    saved under the current key, an older one would be restored by exact match forever after."""
    ident = identity(opts)
    reporter = opts.reporter()
    found = snapshot.find(ident.base_key, warn=reporter.warn)
    saved = found is not None and tuple(map(tuple, found.migrations)) == tuple(ident.migrations)
    path: Path | None = None
    if found is None:
        reporter.line(
            f"no snapshot for {ident.key} on this machine "
            "(run `integration-run --snapshot` first); nothing saved",
            always=True,
        )
    elif not saved:
        reporter.warn(
            f"the snapshot here holds {len(found.migrations)} of the {len(ident.migrations)} migrations "
            "(the run stopped before its snapshot step?); not saved under the current key"
        )
    else:
        path = snapshot.export(ident.base_key, directory)
        reporter.line(f"snapshot {ident.key} saved to {path}", always=True)
    if github_output:
        out = os.environ.get("GITHUB_OUTPUT")
        if not out:
            raise UsageError("--github-output: GITHUB_OUTPUT is not set (it is, in a GitHub Actions step)")
        github.write_outputs(Path(out), {"saved": "true" if saved else "false"})
    if opts.json_mode:
        why = None if saved else ("no snapshot on this machine" if found is None else "out of date")
        emit_json({"key": ident.key, "saved": saved, "path": str(path) if path else None, "reason": why})
    return 0


def snapshot_load(opts: CommonOptions, directory: Path) -> int:
    reporter = opts.reporter()
    if not directory.is_dir() or not any(directory.iterdir()):
        reporter.line(f"no snapshot in {directory} (a cache miss): the next run starts fresh", always=True)
        return _loaded(opts, directory, None, "no snapshot in the directory (a cache miss)")
    manifest = snapshot.import_(directory, warn=reporter.warn)
    if manifest is None:  # corrupt or mismatched: warned, skipped, never used
        return _loaded(opts, directory, None, "corrupt or mismatched: skipped")
    reporter.line(f"snapshot {manifest.key} loaded from {directory}", always=True)
    return _loaded(opts, directory, manifest.key, None)


def _loaded(opts: CommonOptions, directory: Path, key: str | None, reason: str | None) -> int:
    if opts.json_mode:
        emit_json({"directory": str(directory), "loaded": key is not None, "key": key, "reason": reason})
    return 0


def snapshot_prune(opts: CommonOptions, *, keep: int) -> int:
    if keep < 0:
        raise UsageError(f"--keep takes a count >= 0, not {keep}")
    removed = snapshot.prune(keep)
    reporter = opts.reporter()
    for key in removed:
        reporter.line(f"removed snapshot {key}", always=True)
    reporter.line(f"{len(removed)} removed, at most {keep} kept", always=True)
    if opts.json_mode:
        emit_json({"removed": removed})
    return 0


def snapshot_list(opts: CommonOptions) -> int:
    found = snapshot.listing()
    reporter = opts.reporter()
    for m in found:
        size = sum(a.bytes for a in m.archives.values())
        reporter.line(f"{m.key:<20} {len(m.migrations):>4} migrations {size / 1e6:8.1f} MB", always=True)
    if not found:
        reporter.line("no snapshots on this machine", always=True)
    if opts.json_mode:
        emit_json({"snapshots": [m.to_dict() for m in found]})
    return 0
