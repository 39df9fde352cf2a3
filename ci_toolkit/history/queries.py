"""What the runs say together: flaky tests, the slowest tests, trends, a durations ledger.

Pure functions over records, oldest first (as `Store.runs` returns them). Percentiles are the
nearest-rank kind (p50 of 1, 2, 3, 4 is 2: a value that was really measured), as soak reports them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ci_toolkit.history.model import RunRecord
from ci_toolkit.history.origin import is_dirty
from ci_toolkit.shard.ledger import Ledger, Timing

PASSING = frozenset({"passed", "xpassed"})
FAILING = frozenset({"failed", "error"})
# pass -> fail -> pass -> fail on one branch keeps flipping; a break fixed by the next commit
# (pass -> fail -> pass: two flips) is a regression and its fix, not a flaky test.
FLIPS_FLAKY = 3


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of nothing")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class FlakyTest:
    id: str
    runs: int  # runs that gave it a verdict
    passed: int
    failed: int
    reran: int  # runs where it passed only on a rerun
    flips: int  # verdict changes between consecutive runs, on the branch (and cell) with the most
    reasons: tuple[str, ...]
    last_seen: str  # run_id of the newest run that showed it flaky (a failure or a rerun)
    last_commit: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "runs": self.runs,
            "passed": self.passed,
            "failed": self.failed,
            "reran": self.reran,
            "flips": self.flips,
            "reasons": list(self.reasons),
            "last_seen": self.last_seen,
            "last_commit": self.last_commit,
        }


def flaky(records: Sequence[RunRecord]) -> list[FlakyTest]:
    """Tests that failed and passed on the same commit (and cell), passed only on a rerun, or
    keep flipping on a branch (FLIPS_FLAKY verdict changes). A test that broke once and stayed
    broken is a regression, not flaky. A `<sha>-dirty` commit (a changed working tree) is not the
    same code twice: the same-commit rule skips it, the flip rule counts it. Most flaky first
    (failures, then name)."""
    verdicts: dict[str, list[tuple[RunRecord, bool, bool]]] = {}  # test -> (run, passed, reran)
    for record in records:
        for test in record.tests:
            if test.outcome in PASSING or test.outcome in FAILING:
                verdicts.setdefault(test.id, []).append((record, test.outcome in PASSING, test.reran))
    found = []
    for test_id, seen in verdicts.items():
        reasons = []
        by_commit: dict[tuple[str | None, str | None], set[bool]] = {}
        for record, passed, _ in seen:
            if record.commit and not is_dirty(record.commit):
                by_commit.setdefault((record.commit, record.cell), set()).add(passed)
        mixed = sorted(c for (c, _), both in by_commit.items() if len(both) == 2 and c)
        if mixed:
            shown = ", ".join(c[:12] for c in dict.fromkeys(mixed))
            reasons.append(f"failed and passed on the same commit ({shown})")
        reran = sum(1 for _, passed, r in seen if r and passed)
        if reran:
            reasons.append(f"passed only on a rerun in {reran} run{'s' if reran != 1 else ''}")
        flips = _flips(seen)
        if flips >= FLIPS_FLAKY and not mixed:
            reasons.append(f"flipped between pass and fail {flips} times")
        if not reasons:
            continue
        shown_flaky = [(r, p, rr) for r, p, rr in seen if not p or rr]
        last = shown_flaky[-1][0] if shown_flaky else seen[-1][0]
        passed_n = sum(1 for _, p, _ in seen if p)
        found.append(
            FlakyTest(
                test_id,
                len(seen),
                passed_n,
                len(seen) - passed_n,
                reran,
                flips,
                tuple(reasons),
                last.run_id,
                last.commit,
            )
        )
    return sorted(found, key=lambda f: (-f.failed - f.reran, f.id))


def _flips(seen: Iterable[tuple[RunRecord, bool, bool]]) -> int:
    """The most verdict changes on any one lane (branch, cell). Not their sum: a break fixed by
    one commit merged into two branches is two flips on each, and is still no flaky test."""
    previous: dict[tuple[str | None, str | None], bool] = {}
    flips: dict[tuple[str | None, str | None], int] = {}
    for record, passed, _ in seen:
        lane = (record.branch, record.cell)
        if lane in previous and previous[lane] != passed:
            flips[lane] = flips.get(lane, 0) + 1
        previous[lane] = passed
    return max(flips.values(), default=0)


@dataclass(frozen=True)
class SlowTest:
    id: str
    runs: int
    median: float
    p95: float
    max: float
    last: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "runs": self.runs,
            "median": round(self.median, 4),
            "p95": round(self.p95, 4),
            "max": round(self.max, 4),
            "last": round(self.last, 4),
        }


def slowest(records: Sequence[RunRecord], top: int = 20) -> list[SlowTest]:
    """Tests by median time (call + setup + teardown) over the runs that ran them, slowest first."""
    times: dict[str, list[float]] = {}
    for record in records:
        for test in record.tests:
            if test.outcome != "skipped":
                times.setdefault(test.id, []).append(test.seconds + test.setup + test.teardown)
    ranked = [
        SlowTest(t, len(v), statistics.median(v), percentile(v, 95), max(v), v[-1]) for t, v in times.items()
    ]
    return sorted(ranked, key=lambda s: (-s.median, s.id))[:top]


@dataclass(frozen=True)
class TrendPoint:
    run_id: str
    finished_at: float
    label: str  # short commit, else the run's time: an axis label
    status: str
    pass_rate: float | None  # 0..1
    coverage_percent: float | None
    phases: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "finished_at": self.finished_at,
            "label": self.label,
            "status": self.status,
            "pass_rate": self.pass_rate,
            "coverage_percent": self.coverage_percent,
            "phases": dict(self.phases),
        }


@dataclass(frozen=True)
class Trend:
    points: tuple[TrendPoint, ...]  # oldest first
    runs_passed: int
    pass_rate: float | None  # over every test verdict of the runs
    phase_p50: Mapping[str, float] = field(default_factory=dict)
    phase_p95: Mapping[str, float] = field(default_factory=dict)
    coverage_median: float | None = None
    coverage_last: float | None = None

    @property
    def phase_names(self) -> list[str]:
        """Phases in run order, those that took time in some run (skipped steps left out)."""
        return [p for p in self.phase_p95 if self.phase_p95[p] > 0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": len(self.points),
            "runs_passed": self.runs_passed,
            "pass_rate": self.pass_rate,
            "phase_p50": {k: round(v, 3) for k, v in self.phase_p50.items()},
            "phase_p95": {k: round(v, 3) for k, v in self.phase_p95.items()},
            "coverage_median": self.coverage_median,
            "coverage_last": self.coverage_last,
            "points": [p.to_dict() for p in self.points],
        }


def trend(records: Sequence[RunRecord]) -> Trend:
    phases: dict[str, list[float]] = {}
    for record in records:
        for name, seconds in record.phases.items():
            phases.setdefault(name, []).append(seconds)
    passed = sum(r.counts.get("passed", 0) + r.counts.get("xpassed", 0) for r in records)
    judged = passed + sum(r.counts.get("failed", 0) + r.counts.get("errors", 0) for r in records)
    coverage = [r.coverage_percent for r in records if r.coverage_percent is not None]
    return Trend(
        points=tuple(_point(r) for r in records),
        runs_passed=sum(1 for r in records if r.status == "passed"),
        pass_rate=passed / judged if judged else None,
        phase_p50={name: percentile(v, 50) for name, v in phases.items()},
        phase_p95={name: percentile(v, 95) for name, v in phases.items()},
        coverage_median=statistics.median(coverage) if coverage else None,
        coverage_last=coverage[-1] if coverage else None,
    )


def _point(record: RunRecord) -> TrendPoint:
    import time

    label = (
        record.commit[:7] if record.commit else time.strftime("%m-%d %H:%M", time.gmtime(record.finished_at))
    )
    return TrendPoint(
        record.run_id,
        record.finished_at,
        label,
        record.status,
        record.pass_rate,
        record.coverage_percent,
        dict(record.phases),
    )


def durations(records: Sequence[RunRecord]) -> Ledger:
    """The shard planner's ledger from the runs, oldest to newest, smoothed as the ledger is
    after each run (shard.ledger): the same costs a ledger kept in a cache would hold."""
    ledger = Ledger()
    for record in records:
        seen = {t.id: Timing(t.seconds, t.setup, t.teardown) for t in record.tests if t.outcome != "skipped"}
        ledger = ledger.updated(seen)
    return ledger


def newest_run(records: Sequence[RunRecord]) -> list[RunRecord]:
    """The newest workflow run's records: every shard and matrix cell recorded with the newest
    record's run URL (one GitHub Actions run), the newest of each (cell, shard) when a job was
    re-run; a run without a URL (not in Actions) is its one record. Empty without runs."""
    if not records:
        return []
    url = records[-1].run_url
    if url is None:
        return [records[-1]]
    lanes: dict[tuple[str | None, str | None], RunRecord] = {}
    for record in records:
        if record.run_url == url:
            lanes[(record.cell, record.shard)] = record  # oldest first: a re-run's attempt wins
    return list(lanes.values())


def counts_of(records: Sequence[RunRecord]) -> Mapping[str, int]:
    """The newest workflow run's counts, added up over its shards and cells (a badge's
    numbers); empty without runs."""
    total: dict[str, int] = {}
    for record in newest_run(records):
        for key, value in record.counts.items():
            total[key] = total.get(key, 0) + value
    return total


def coverage_of(records: Sequence[RunRecord]) -> float | None:
    """The newest workflow run's coverage: per matrix cell the highest of its shards (each
    measured only its part, so the merged figure is at least that), then the lowest cell (a
    badge does not claim more than the weakest cell measured). None when none measured it."""
    cells: dict[str | None, float] = {}
    for record in newest_run(records):
        if record.coverage_percent is not None:
            cells[record.cell] = max(cells.get(record.cell, 0.0), record.coverage_percent)
    return min(cells.values()) if cells else None
