"""`ci-toolkit report merge DIR...`: one summary for all matrix cells, and one result for shards.

Matrix cells are summed up side by side (`output.cell_report`). The shards of one run (of one
matrix cell) are merged into one (`shard.merge`): one junit.xml, coverage combined and judged
against `pytest.fail_under` as a whole, one durations ledger, into `--into` (a sub-directory per
matrix cell when several cells were sharded).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ci_toolkit.commands.common import emit_json
from ci_toolkit.config import loader as config_loader
from ci_toolkit.config.matrix import slugify
from ci_toolkit.errors import ConfigError, ExitCode, UsageError
from ci_toolkit.output import cell_report as report
from ci_toolkit.output import github
from ci_toolkit.output import shard_summary as summary
from ci_toolkit.redact import REDACTOR
from ci_toolkit.shard import ledger
from ci_toolkit.shard import merge as shards_merge

DEFAULT_INTO = Path("merged")


def merge(
    dirs: tuple[Path, ...],
    *,
    output: Path | None = None,
    json_mode: bool = False,
    into: Path | None = None,
    durations: Path | None = None,
) -> int:
    into = DEFAULT_INTO if into is None else into
    found = [d for d in report.find_cells(dirs) if not _earlier_merge(d, into)]
    if not found:
        raise UsageError(f"{', '.join(map(str, dirs))}: holds only the output of an earlier `report merge`")
    runs = [(d, shards_merge.read_shard(d)) for d in found]
    shards = [s for _, s in runs if s is not None]
    if not shards:
        if durations is not None:
            raise UsageError(
                "--durations: none of the directories is a shard's run (integration-run --shard)"
            )
        cells = [report.load_cell(d) for d in found]
        return _emit(REDACTOR(report.render_markdown(cells)), cells, [], output, json_mode, None)
    groups = shards_merge.group(shards)
    for shard in shards:
        if _same(shard.path, into) or any(
            _same(shard.path, _dest(into, m, len(groups))) for m in groups.values()
        ):
            raise UsageError(f"--into {into}: that is {shard.where()}; the merge would overwrite it")
    checked = [(members, shards_merge.check(members)) for members in groups.values()]  # refuse before writing
    here = _checkout_root()
    merged = [shards_merge.merge(m, _dest(into, m, len(groups)), cases, here) for m, cases in checked]
    if durations is not None:
        whole = ledger.merge(m.ledger for m in merged)
        if whole.tests:
            ledger.save(whole, durations)
        else:
            durations = None  # nothing to save: a cache must not get an empty ledger over a good one
    cells = [report.load_cell(d) for d, s in runs if s is None] + [summary.as_cell(m) for m in merged]
    text = REDACTOR(summary.render_all(merged, cells, durations))
    return _emit(text, cells, merged, output, json_mode, durations)


def _emit(
    text: str,
    cells: list[report.CellResult],
    merged: list[shards_merge.Merged],
    output: Path | None,
    json_mode: bool,
    durations: Path | None,
) -> int:
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
    github.append_step_summary(text)
    code = ExitCode.OK if all(c.passed for c in cells) else ExitCode.TESTS_FAILED
    if json_mode:
        data: dict[str, Any] = {
            "cells": [c.to_dict() for c in cells],
            "failed_tests": report.failed_tests(cells),
            "tests": report.totals(cells).to_dict(),
            "flaky_tests": report.flaky_tests(cells),
        }
        if merged:
            data = {"exit_code": code, **data, "merged": [summary.to_dict(m, durations) for m in merged]}
        emit_json(data)
    else:
        sys.stdout.write(text)
    return code


def _dest(into: Path, members: list[shards_merge.ShardRun], groups: int) -> Path:
    """`into` itself for one run's shards; a sub-directory per matrix cell for several."""
    if groups == 1:
        return into
    first = members[0]
    return into / (first.slug or (slugify(first.cell) if first.cell else "shards"))


def _earlier_merge(path: Path, into: Path) -> bool:
    """A merge's output (junit.xml, no run.json) in `into` or a cell's sub-directory of it is no
    cell: `report merge .` run twice must not count the first merge as one more cell."""
    if (path / "run.json").is_file():
        return False
    return _same(path, into) or _same(path.parent, into)


def _same(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve()


def _checkout_root() -> Path:
    """Where the shards' root is in this checkout: the directory of the config found from here
    (the shards ran from their config's directory), else the current directory."""
    try:
        source, _ = config_loader.find_config(Path.cwd())
    except ConfigError:
        return Path.cwd()
    return source.parent
