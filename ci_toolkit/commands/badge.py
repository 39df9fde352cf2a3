"""`ci-toolkit badge coverage|tests|flaky --out FILE.svg`: from a run's artifacts dir (`--from`)
or the history store's newest runs. A value that is not known (no coverage measured, no runs)
gives a grey "unknown" badge and says so: a README keeps showing a badge, never a broken image."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ci_toolkit.commands.common import emit_json
from ci_toolkit.errors import ExitCode, UsageError
from ci_toolkit.output import badge as badges


def badge(
    kind: str,
    out: Path,
    *,
    from_dir: Path | None,
    store: str | None,
    config: Path | None,
    last: int | None,
    json_mode: bool,
) -> int:
    made = _from_run(kind, from_dir) if from_dir is not None else _from_store(kind, store, config, last)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(made.svg, encoding="utf-8")
    if json_mode:
        emit_json({"written": str(out), "kind": kind, "text": made.text, "colour": made.colour})
    else:
        unknown = " (no value recorded: a grey badge)" if made.colour == badges.GREY else ""
        print(f"{out}: {kind} {made.text} ({made.colour}){unknown}", file=sys.stderr)
    return ExitCode.OK


def _from_run(kind: str, run_dir: Path) -> badges.Badge:
    path = run_dir / "run.json"
    try:
        run = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(
            f"{run_dir}: no run.json here", hint="pass a run's artifacts dir to --from"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a run's result ({exc})") from None
    if kind == "coverage":
        return badges.coverage(run.get("coverage_percent"))
    if kind == "tests":
        return badges.tests(run.get("tests"))
    return badges.flaky(len(run.get("flaky_tests") or ()))


def _from_store(kind: str, store: str | None, config: Path | None, last: int | None) -> badges.Badge:
    from ci_toolkit.commands.history import resolve
    from ci_toolkit.history import queries

    runs = resolve(store, config).runs(last)
    newest = runs[-1] if runs else None
    if kind == "coverage":
        return badges.coverage(newest.coverage_percent if newest else None)
    if kind == "tests":
        return badges.tests(newest.counts if newest else None)
    return badges.flaky(len(queries.flaky(runs)) if runs else None)
