"""`ci-toolkit badge coverage|tests|flaky --out FILE.svg`: from a run's artifacts dir (`--from`)
or the history store's newest runs (`--store`, else `[history] store`; `--last N` runs, `--branch
B` only that branch's).

From a run: coverage is run.json's `coverage_percent` (coverage.xml for a run.json from before
it was kept), tests its `tests` counts, flaky the length of its `flaky_tests`. From the store:
coverage and tests of the newest workflow run (all its shards and matrix cells: the records that
share the newest record's run URL; `queries.newest_run`), flaky the tests `history flaky` finds
over the runs.

A value that is not known (no coverage measured, no runs yet) is not an error: the badge is a
grey "unknown" (or "no tests"), the message says so and the exit code is 0, so a README keeps
showing a badge, never a broken image, and a workflow's badge step does not fail a green run.
What is an error (a usage error, exit 2): `--from` a directory without a readable run.json.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

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
    branch: str | None = None,
) -> int:
    from ci_toolkit.commands.history import write_output

    if from_dir is not None and branch is not None:
        raise UsageError(
            "badge: --branch picks runs of the history store; --from reads one run",
            hint="leave out --from to read the store's newest runs of that branch",
        )
    if from_dir is not None:
        made = _from_run(kind, from_dir)
    else:
        made = _from_store(kind, store, config, last, branch)
    write_output(out, made.svg, f"the {kind} badge")
    unknown = made.colour == badges.GREY
    if json_mode:
        emit_json(
            {
                "written": str(out),
                "kind": kind,
                "text": made.text,
                "colour": made.colour,
                "known": not unknown,
            }
        )
    else:
        note = " (no value recorded: a grey badge)" if unknown else ""
        print(f"{out}: {kind} {made.text} ({made.colour}){note}", file=sys.stderr)
    return ExitCode.OK


def _from_run(kind: str, run_dir: Path) -> badges.Badge:
    path = run_dir / "run.json"
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{run_dir}: no run.json here", hint="pass a run's artifacts dir to --from"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a run's result ({exc})") from None
    if not isinstance(run, dict):
        raise UsageError(f"{path}: not a run's result (a JSON object was expected)")
    if kind == "coverage":
        return badges.coverage(_coverage(run_dir, run))
    if kind == "tests":
        tests = run.get("tests")
        counts = (
            {str(k): v for k, v in tests.items() if isinstance(v, int)} if isinstance(tests, dict) else {}
        )
        return badges.tests(counts)
    flaky = run.get("flaky_tests")
    return badges.flaky(len(flaky) if isinstance(flaky, list) else 0)


def _coverage(run_dir: Path, run: dict[str, Any]) -> float | None:
    if "coverage_percent" in run:
        value = run["coverage_percent"]
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    from ci_toolkit.results.junit import read_coverage

    try:  # a run.json from before coverage was kept in it, as history.record reads it
        return read_coverage(run_dir / "coverage.xml")
    except (ET.ParseError, ValueError, OSError):
        return None


def _from_store(
    kind: str, store: str | None, config: Path | None, last: int | None, branch: str | None
) -> badges.Badge:
    from ci_toolkit.commands.history import resolve
    from ci_toolkit.history import queries

    runs = resolve(store, config).runs(last, branch)
    if kind == "coverage":
        return badges.coverage(queries.coverage_of(runs))
    if kind == "tests":
        return badges.tests(queries.counts_of(runs))
    return badges.flaky(len(queries.flaky(runs)) if runs else None)
