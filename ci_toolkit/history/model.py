"""One recorded run, as the store keeps it and every query reads it.

A record is small and self-contained: the counts, coverage and phase times a trend needs, and
each test's final outcome and time (the flaky and slowest queries, the durations ledger). The
run's own files (run.json, junit.xml) are kept beside it in the store, compressed, for
`history show`-style digging; queries never need them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FORMAT = 1  # bumped when a record's keys change meaning; older records are still read


@dataclass(frozen=True)
class TestResult:
    """One test's last attempt in one run. `reran`: it needed a rerun (pytest-rerunfailures)."""

    __test__ = False  # not a pytest test class

    id: str
    outcome: str  # passed | failed | error | skipped | xfailed | xpassed
    seconds: float = 0.0  # call time (setup and teardown apart, as the ledger keeps them)
    setup: float = 0.0
    teardown: float = 0.0
    reran: bool = False
    message: str = ""  # first line of the failure, for failed/error tests

    def to_list(self) -> list[Any]:
        return [
            self.id,
            self.outcome,
            round(self.seconds, 4),
            round(self.setup, 4),
            round(self.teardown, 4),
            self.reran,
            self.message,
        ]

    @classmethod
    def from_list(cls, row: list[Any]) -> TestResult:
        test_id, outcome, seconds, setup, teardown, reran, message = [*row, 0, 0, 0, False, ""][:7]
        return cls(
            str(test_id),
            str(outcome),
            float(seconds or 0),
            float(setup or 0),
            float(teardown or 0),
            bool(reran),
            str(message or ""),
        )


@dataclass(frozen=True)
class RunRecord:
    run_id: str  # sortable: UTC time of the run's end, then the project (unique per run)
    finished_at: float  # epoch seconds
    status: str  # run.json's status: passed | tests_failed | coverage_below_threshold | ...
    exit_code: int
    counts: Mapping[str, int]  # passed, failed, errors, skipped, xfailed, xpassed, rerun
    coverage_percent: float | None = None
    phases: Mapping[str, float] = field(default_factory=dict)  # phase name -> seconds (run order)
    tests: tuple[TestResult, ...] = ()
    commit: str | None = None
    branch: str | None = None
    workflow: str | None = None
    run_url: str | None = None  # the CI run's page, when it ran in GitHub Actions
    cell: str | None = None  # the matrix cell's name
    shard: str | None = None  # "K/N"
    suite: str | None = None
    project: str | None = None

    @property
    def pass_rate(self) -> float | None:
        """Passed over tests that ran to a verdict (skips and xfails are no verdict); None without tests."""
        passed = self.counts.get("passed", 0) + self.counts.get("xpassed", 0)
        judged = passed + self.counts.get("failed", 0) + self.counts.get("errors", 0)
        return passed / judged if judged else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "run_id": self.run_id,
            "finished_at": round(self.finished_at, 3),
            "status": self.status,
            "exit_code": self.exit_code,
            "counts": dict(self.counts),
            "coverage_percent": self.coverage_percent,
            "phases": {k: round(v, 3) for k, v in self.phases.items()},
            "commit": self.commit,
            "branch": self.branch,
            "workflow": self.workflow,
            "run_url": self.run_url,
            "cell": self.cell,
            "shard": self.shard,
            "suite": self.suite,
            "project": self.project,
            "tests": [t.to_list() for t in self.tests],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        coverage = data.get("coverage_percent")
        return cls(
            run_id=str(data["run_id"]),
            finished_at=float(data.get("finished_at") or 0),
            status=str(data.get("status") or "unknown"),
            exit_code=int(data.get("exit_code") or 0),
            counts={str(k): int(v) for k, v in (data.get("counts") or {}).items()},
            coverage_percent=None if coverage is None else float(coverage),
            phases={str(k): float(v) for k, v in (data.get("phases") or {}).items()},
            tests=tuple(TestResult.from_list(row) for row in data.get("tests") or ()),
            commit=text("commit"),
            branch=text("branch"),
            workflow=text("workflow"),
            run_url=text("run_url"),
            cell=text("cell"),
            shard=text("shard"),
            suite=text("suite"),
            project=text("project"),
        )
