"""`ci-toolkit history record|flaky|slowest|trend|durations|html`: the store and what it says.

The store is `--store` (relative to the current directory), else `[history] store` (relative to
the config's directory). Every query prints a table, or one JSON object with `--json`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit import config as config_mod
from ci_toolkit.commands.common import emit_json
from ci_toolkit.config.history_settings import DEFAULT_LAST
from ci_toolkit.errors import ConfigError, ExitCode, UsageError
from ci_toolkit.history import queries
from ci_toolkit.history.model import RunRecord
from ci_toolkit.history.store import Store, open_store
from ci_toolkit.redact import REDACTOR


@dataclass(frozen=True)
class History:
    """The store a history command works on, and how far back it looks by default."""

    store: Store
    last: int
    config: config_mod.Config | None

    def runs(self, last: int | None = None, branch: str | None = None) -> Sequence[RunRecord]:
        return self.store.runs(last=last or self.last, branch=branch)


def resolve(store: str | None, config: Path | None) -> History:
    """`--store` wins; else the config's `[history] store`. A config is optional with `--store`."""
    loaded: config_mod.Config | None = None
    try:
        loaded = config_mod.load(Path.cwd(), config)
    except ConfigError:
        if store is None or config is not None:
            if store is None and config is None:
                raise UsageError(
                    "no history store: pass --store PATH|s3://bucket/prefix, or set [history] store "
                    "in the config (none was found here)",
                    hint='e.g. [history] store = ".ci-history"',
                ) from None
            raise
    last = loaded.history.last if loaded else DEFAULT_LAST
    if store is not None:
        return History(open_store(store, Path.cwd()), last, loaded)
    if loaded is None or loaded.history.store is None:
        where = loaded.source if loaded else "the config"
        raise UsageError(
            f"no history store: {where} has no [history] store, and --store was not given",
            hint='add [history] store = ".ci-history" (or "s3://bucket/prefix"), or pass --store',
        )
    return History(open_store(loaded.history.store, loaded.root), last, loaded)


def record(
    run_dir: Path,
    *,
    store: str | None,
    config: Path | None,
    commit: str | None = None,
    branch: str | None = None,
    json_mode: bool = False,
) -> int:
    from ci_toolkit.history import record as recorder

    history = resolve(store, config)
    kept, files = recorder.build(run_dir, dict(os.environ), commit=commit, branch=branch)
    history.store.put(kept, files)
    if json_mode:
        emit_json({"recorded": kept.run_id, "store": history.store.uri, "tests": len(kept.tests)})
    else:
        print(f"recorded {kept.run_id} ({len(kept.tests)} tests, {kept.status}) in {history.store.uri}")
    return ExitCode.OK


def flaky(
    *, store: str | None, config: Path | None, last: int | None, branch: str | None, json_mode: bool
) -> int:
    history = resolve(store, config)
    runs = history.runs(last, branch)
    found = queries.flaky(runs)
    if json_mode:
        emit_json({"runs": len(runs), "store": history.store.uri, "flaky": [f.to_dict() for f in found]})
        return ExitCode.OK
    _header(f"flaky tests over {len(runs)} runs", history)
    if not found:
        _out("no flaky tests")
    for f in found:
        _out(
            f"{f.id}\n    {f.failed} failed, {f.passed} passed of {f.runs} runs; last seen {f.last_seen}"
            f" ({(f.last_commit or 'no commit')[:12]}): {'; '.join(f.reasons)}"
        )
    return ExitCode.OK


def slowest(
    *, store: str | None, config: Path | None, last: int | None, branch: str | None, top: int, json_mode: bool
) -> int:
    history = resolve(store, config)
    runs = history.runs(last, branch)
    ranked = queries.slowest(runs, top)
    if json_mode:
        emit_json({"runs": len(runs), "store": history.store.uri, "slowest": [s.to_dict() for s in ranked]})
        return ExitCode.OK
    _header(f"slowest tests over {len(runs)} runs (median, p95, max seconds)", history)
    for s in ranked:
        _out(f"{s.median:8.3f} {s.p95:8.3f} {s.max:8.3f}  {s.id}  ({s.runs} runs)")
    return ExitCode.OK


def trend(
    *, store: str | None, config: Path | None, last: int | None, branch: str | None, json_mode: bool
) -> int:
    history = resolve(store, config)
    result = queries.trend(history.runs(last, branch))
    if json_mode:
        emit_json({"store": history.store.uri, **result.to_dict()})
        return ExitCode.OK
    _header(f"trend over {len(result.points)} runs", history)
    rate = "n/a" if result.pass_rate is None else f"{result.pass_rate:.1%}"
    _out(f"runs passed: {result.runs_passed} of {len(result.points)}; tests passed: {rate}")
    if result.coverage_median is not None:
        _out(f"coverage: median {result.coverage_median:.1f}%, newest {result.coverage_last:.1f}%")
    for name in result.phase_names:
        _out(f"  {name:<10} p50 {result.phase_p50[name]:8.3f}s  p95 {result.phase_p95[name]:8.3f}s")
    return ExitCode.OK


def durations(
    *,
    store: str | None,
    config: Path | None,
    last: int | None,
    branch: str | None,
    output: Path | None,
    json_mode: bool,
) -> int:
    from ci_toolkit.shard import ledger as ledger_mod

    history = resolve(store, config)
    runs = history.runs(last, branch)
    ledger = queries.durations(runs)
    if output is not None:
        with writing(output, "the durations ledger"):
            if output.is_dir():  # said before ledger.save writes its temporary file beside it
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(output))
            ledger_mod.save(ledger, output)
        message: dict[str, Any] = {"written": str(output), "tests": len(ledger.tests), "runs": len(runs)}
        if json_mode:
            emit_json(message)
        else:
            print(f"{output}: {len(ledger.tests)} tests from {len(runs)} runs", file=sys.stderr)
        return ExitCode.OK
    sys.stdout.write(json.dumps(ledger.to_dict(), indent=None if json_mode else 1) + "\n")
    return ExitCode.OK


def html(
    out: Path,
    *,
    store: str | None,
    config: Path | None,
    last: int | None,
    branch: str | None,
    json_mode: bool,
) -> int:
    from ci_toolkit.output import history_html

    history = resolve(store, config)
    runs = history.runs(last, branch)
    title = (
        f"ci-toolkit history: {history.config.source.parent.name if history.config else history.store.uri}"
    )
    page = history_html.render(
        queries.trend(runs), queries.flaky(runs), queries.slowest(runs, 20), title=title
    )
    write_output(out, REDACTOR(page), "the history page")
    if json_mode:
        emit_json({"written": str(out), "runs": len(runs)})
    else:
        print(f"{out}: {len(runs)} runs", file=sys.stderr)
    return ExitCode.OK


def write_output(path: Path, text: str, what: str) -> None:
    """A file the user named (a page, a badge, an issue body), its directory made if need be."""
    with writing(path, what):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@contextlib.contextmanager
def writing(path: Path, what: str) -> Iterator[None]:
    """An output path that cannot be written (a directory, /proc, read-only, full) is a usage
    error naming it and the reason, not a crash."""
    try:
        yield
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        culprit = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
        raise UsageError(
            f"{what} cannot be written to {path}: {reason}{culprit}",
            hint="pass a file path in a directory that exists or can be made, and is writable",
        ) from None


def _header(text: str, history: History) -> None:
    _out(f"{text} in {history.store.uri}")


def _out(text: str) -> None:
    sys.stdout.write(REDACTOR(text) + "\n")
