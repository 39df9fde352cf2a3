"""`report merge` over shards: the shards of one run -> one JUnit, one coverage, one ledger.

A shard's run dir says what it is in run.json (`"shard"`: K/N, the digest of the collection it
split, how many tests it kept, the coverage threshold it left to the total). The shards of one
run (of one matrix cell) are checked to be exactly that before anything is written: one N,
every K once, one collection, the kept tests adding up to it and no test in two shards. A
mismatch is refused (UsageError, exit 2): a merged report over a wrong set of shards would say
the suite passed with tests missing or counted twice.

Coverage is combined by coverage.py itself (`shard.coverage`), the ledgers by `ledger.merge`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.errors import UsageError
from ci_toolkit.shard import coverage, ledger, testcases
from ci_toolkit.shard.coverage import Coverage
from ci_toolkit.shard.testcases import Case

OUTPUTS = (
    "junit.xml",
    "coverage.xml",
    *coverage.DATA_FILES,
    "htmlcov",
    ledger.FILE_NAME,
)  # what a merge writes
RERUN = "rerun them from one commit and one durations ledger"


@dataclass(frozen=True)
class ShardRun:
    """One shard's run dir as its run.json and selection.json describe it."""

    path: Path
    index: int
    count: int
    cell: str | None  # the matrix cell's name, None outside a matrix
    slug: str | None
    status: str
    message: str
    tests: int | None  # the collection it split
    selected: int | None
    collection: str | None
    estimated_seconds: float | None
    wall_seconds: float | None  # its test phase: pytest's wall time
    fail_under: float | None
    root: str | None = None  # the directory the shard's tests ran in (its coverage data's paths)

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}"

    def where(self) -> str:
        return f"shard {self.label} ({self.path})"


def read_shard(path: Path) -> ShardRun | None:
    """None when `path` holds no shard's run (a matrix cell, or a run without --shard)."""
    run, selection = _json(path / "run.json"), _json(path / "selection.json")
    info = run.get("shard")
    if not isinstance(info, dict):
        return None
    cell = selection.get("cell") or {}
    phases = {p.get("name"): p.get("seconds") for p in run.get("phases") or () if isinstance(p, dict)}
    try:
        return _shard_run(path, run, info, cell, phases)
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f'{path / "run.json"}: its "shard" is not a shard\'s record ({exc!r})') from None


def _shard_run(
    path: Path, run: dict[str, Any], info: dict[str, Any], cell: dict[str, Any], phases: dict[Any, Any]
) -> ShardRun:
    return ShardRun(
        path,
        int(info["index"]),
        int(info["count"]),
        cell.get("name"),
        cell.get("slug"),
        str(run.get("status", "unknown")),
        str(run.get("message") or ""),
        _opt(int, info.get("tests")),
        _opt(int, info.get("selected")),
        info.get("collection"),
        _opt(float, info.get("estimated_seconds")),
        _opt(float, phases.get("test")),
        _opt(float, info.get("fail_under")),
        info.get("root"),
    )


def group(shards: Iterable[ShardRun]) -> dict[str | None, list[ShardRun]]:
    """By matrix cell (a cell's shards are merged together), each in shard order."""
    out: dict[str | None, list[ShardRun]] = {}
    for shard in shards:
        out.setdefault(shard.cell, []).append(shard)
    return {k: sorted(v, key=lambda s: (s.index, str(s.path))) for k, v in out.items()}


def check(shards: Sequence[ShardRun]) -> dict[str, testcases.Cases]:
    """Refuse shards that are not one run's, before anything is written; their testcases by shard."""
    where = f"matrix cell {shards[0].cell}: " if shards[0].cell else ""
    hint = "pass every shard's directory of one run once (each shard uploads its run dir, also when it fails)"
    counts = {s.count for s in shards}
    if len(counts) > 1:
        ways = "; ".join(f"{n} shards in {_dirs(s for s in shards if s.count == n)}" for n in sorted(counts))
        raise UsageError(f"{where}the shards were split different ways: {ways}", hint=hint)
    count = counts.pop()
    for index in sorted({s.index for s in shards}):
        twice = [s for s in shards if s.index == index]
        if len(twice) > 1:
            raise UsageError(f"{where}shard {index}/{count} is there twice: {_dirs(twice)}", hint=hint)
    missing = sorted(set(range(1, count + 1)) - {s.index for s in shards})
    if missing:
        names = ", ".join(f"{k}/{count}" for k in missing)
        verb = "is" if len(missing) == 1 else "are"
        have = ", ".join(s.where() for s in shards)
        raise UsageError(
            f"{where}shard{'s' * (len(missing) > 1)} {names} {verb} missing (have {have})", hint=hint
        )
    digests = {s.collection for s in shards if s.collection}
    if len(digests) > 1:
        each = ", ".join(f"{s.where()}: {s.collection}" for s in shards)
        raise UsageError(f"{where}the shards collected different tests: {RERUN} ({each})")
    sizes = {s.tests for s in shards if s.tests is not None}
    selected = [s.selected for s in shards]
    if len(sizes) == 1 and None not in selected and sum(s for s in selected if s) != (size := sizes.pop()):
        kept = ", ".join(f"{s.label}: {s.selected}" for s in shards)
        raise UsageError(
            f"{where}the shards split {size} tests into {sum(s for s in selected if s)} ({kept}): "
            f"they split by different durations; {RERUN}"
        )
    cases = {s.label: testcases.read(s.path / "junit.xml", s.label) for s in shards}
    owner: dict[str, ShardRun] = {}
    twice_run: list[str] = []
    for shard in shards:
        for case, _ in cases[shard.label]:
            first = owner.setdefault(case.id, shard)
            if first is not shard:
                twice_run.append(f"{case.id} in {first.where()} and {shard.where()}")
    if twice_run:
        more = f" and {len(twice_run) - 5} more" if len(twice_run) > 5 else ""
        raise UsageError(
            f"{where}{len(twice_run)} test{'s' * (len(twice_run) > 1)} ran in two shards: "
            f"{'; '.join(twice_run[:5])}{more}: {RERUN}"
        )
    return cases


@dataclass(frozen=True)
class Merged:
    cell: str | None
    into: Path
    shards: tuple[ShardRun, ...]
    cases: tuple[Case, ...]  # collection order
    junit: Path
    coverage: Coverage | None
    ledger: ledger.Ledger
    durations: Path | None  # into/durations.json, None when no shard recorded any
    notes: tuple[str, ...] = ()

    def count(self, outcome: str) -> int:
        return sum(1 for c in self.cases if c.outcome == outcome)

    @property
    def ran(self) -> tuple[Case, ...]:
        """Each test's last attempt: the cases without pytest-rerunfailures' thrown-away ones."""
        return tuple(c for c in self.cases if c.outcome != "rerun")

    @property
    def flaky(self) -> tuple[str, ...]:
        return testcases.flaky(self.cases)

    @property
    def tests(self) -> int | None:
        """The collection's size (every shard split the same one), None when no shard said."""
        return next((s.tests for s in self.shards if s.tests is not None), None)

    @property
    def status(self) -> str:
        outside = [s for s in self.shards if s.status not in ("passed", "tests_failed")]
        if outside:
            return outside[0].status
        if self.count("failed") or self.count("error") or any(s.status != "passed" for s in self.shards):
            return "tests_failed"
        if self.coverage is not None and self.coverage.below:
            return "coverage_below_threshold"
        return "passed"

    @property
    def message(self) -> str:
        lines = [
            f"{s.where()}: {s.status}: {s.message}".rstrip(": ") for s in self.shards if s.status != "passed"
        ]
        cov = self.coverage
        if cov is not None and cov.below:
            lines.append(
                f"coverage {cov.percent:.1f}% (merged over {cov.shards} shards) is below "
                f"pytest.fail_under = {cov.fail_under:g}"
            )
        return "\n".join(lines)


def merge(
    shards: Sequence[ShardRun], into: Path, cases: Mapping[str, testcases.Cases], here: Path | None = None
) -> Merged:
    """`here`: this checkout's config directory, which the shards' coverage paths are moved to."""
    """Write the merged junit.xml, coverage and durations.json of one run's checked shards into `into`."""
    into.mkdir(parents=True, exist_ok=True)
    for name in OUTPUTS:  # an earlier merge's files must not pass for this one's
        old = into / name
        shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
    collected = next(
        (ledger.read_collected(p) for s in shards if (p := s.path / ledger.COLLECTED_FILE).is_file()), []
    )
    ordered = testcases.in_collection_order([pair for s in shards for pair in cases[s.label]], collected)
    junit = into / "junit.xml"
    testcases.write([s.path / "junit.xml" for s in shards], ordered, junit)
    notes: list[str] = []
    coverage = _combine(shards, into, notes, here)
    merged = ledger.merge(ledger.load(s.path / ledger.FILE_NAME) for s in shards)
    durations = None
    if merged.tests:
        durations = into / ledger.FILE_NAME
        ledger.save(merged, durations)
    return Merged(
        shards[0].cell, into, tuple(shards), tuple(c for c, _ in ordered), junit, coverage, merged, durations,
        tuple(notes),
    )  # fmt: skip


def _combine(shards: Sequence[ShardRun], into: Path, notes: list[str], here: Path | None) -> Coverage | None:
    found = [(p, s.root) for s in shards if (p := coverage.data_file(s.path)) is not None]
    data = [p for p, _ in found]
    if not data:
        if any((s.path / "coverage.xml").is_file() for s in shards):
            notes.append(
                f"coverage was not merged: the shards have coverage.xml but no coverage data file "
                f"({coverage.DATA_FILES[0]}), which is what can be combined"
            )
        return None
    if len(data) < len(shards):
        notes.append(
            f"coverage from {len(data)} of {len(shards)} shards (the others have no {coverage.DATA_FILES[0]})"
        )
    thresholds = [s.fail_under for s in shards if s.fail_under is not None]
    # One run's shards share one threshold; should they not, the strictest is the one kept.
    return coverage.combine(found, into, max(thresholds) if thresholds else None, here)


def _dirs(shards: Iterable[ShardRun]) -> str:
    return ", ".join(str(s.path) for s in shards)


def _opt(kind: type[Any], value: Any) -> Any:
    return None if value is None else kind(value)


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not readable JSON: {exc}") from None
    return data if isinstance(data, dict) else {}
