"""Results of a run, as small frozen dataclasses with `to_dict()` for `--json`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class PhaseResult:
    name: str
    status: str  # ok | failed | skipped | interrupted
    seconds: float
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "status": self.status, "seconds": round(self.seconds, 3)}
        if self.detail:
            data["detail"] = self.detail
        return data


@dataclass(frozen=True)
class ServiceResult:
    ready_seconds: float | None
    host: str
    ports: dict[int, int]  # container port -> host port

    def to_dict(self) -> dict[str, Any]:
        return {
            "ready_seconds": None if self.ready_seconds is None else round(self.ready_seconds, 3),
            "host": self.host,
            "ports": {str(k): v for k, v in sorted(self.ports.items())},
        }


@dataclass(frozen=True)
class FailedTest:
    id: str
    file: str | None
    line: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# pytest's categories past the four every run has, in the order pytest's terminal line names them.
EXTRA = ("xfailed", "xpassed", "rerun")
FINISHED = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")  # a test's last attempt


@dataclass(frozen=True)
class TestCounts:
    """pytest's own categories, equal to its terminal line ("1 failed, 5 passed, 1 xfailed, 1 rerun").

    `rerun` counts attempts pytest-rerunfailures threw away, not tests; `flaky` names the tests
    that passed only on a rerun. Fields after `failures` are keyword-friendly additions: older
    positional callers (passed, failed, errors, skipped, failures) keep working."""

    __test__ = False  # not a pytest test class

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failures: tuple[FailedTest, ...] = ()
    xfailed: int = 0
    xpassed: int = 0
    rerun: int = 0
    flaky: tuple[str, ...] = ()  # test ids, in the order they finished

    @property
    def total(self) -> int:
        """Outcomes of tests that finished (reruns not included): what "N tests" always meant here,
        when xfailed tests were counted as skipped and xpassed ones as passed."""
        return self.passed + self.failed + self.errors + self.skipped + self.xfailed + self.xpassed

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "skipped": self.skipped,
            "xfailed": self.xfailed,
            "xpassed": self.xpassed,
            "rerun": self.rerun,
        }

    def describe(self) -> str:
        """The four counts every summary has shown, then pytest's other categories when not zero."""
        text = f"{self.passed} passed, {self.failed} failed, {self.errors} errors, {self.skipped} skipped"
        extra = ", ".join(f"{n} {name}" for name in EXTRA if (n := getattr(self, name)))
        return f"{text}, {extra}" if extra else text

    def with_failures(self, failures: tuple[FailedTest, ...]) -> TestCounts:
        return replace(self, failures=failures)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], failures: tuple[FailedTest, ...] = (), flaky: Any = ()
    ) -> TestCounts:
        """A `to_dict()` read back (run.json); keys an older ci-toolkit did not write count 0."""
        ints = {k: int(data.get(k) or 0) for k in ("passed", "failed", "errors", "skipped", *EXTRA)}
        return cls(**ints, failures=failures, flaky=tuple(str(t) for t in flaky or ()))

    @classmethod
    def tally(cls, outcomes: Iterable[tuple[str, str]]) -> TestCounts:
        """Counts from (outcome, test id) in the order pytest reported them: an outcome in
        `FINISHED` or "rerun" (an attempt thrown away). A test is flaky when it had a rerun and
        its last attempt passed."""
        counts: Counter[str] = Counter()
        reran: set[str] = set()
        last: dict[str, set[str]] = {}  # test id -> outcomes since its last rerun
        for outcome, test in outcomes:
            counts[outcome] += 1
            if outcome == "rerun":
                reran.add(test)
                last[test] = set()
            else:
                last.setdefault(test, set()).add(outcome)
        flaky = tuple(
            t
            for t in last
            if t in reran and last[t] & {"passed", "xpassed"} and not last[t] & {"failed", "error"}
        )
        return cls(
            counts["passed"], counts["failed"], counts["error"], counts["skipped"],
            xfailed=counts["xfailed"], xpassed=counts["xpassed"], rerun=counts["rerun"], flaky=flaky,
        )  # fmt: skip


@dataclass(frozen=True)
class RunResult:
    status: str
    exit_code: int
    project: str | None
    phases: tuple[PhaseResult, ...] = ()
    services: dict[str, ServiceResult] = field(default_factory=dict)
    tests: TestCounts = field(default_factory=TestCounts)
    coverage_percent: float | None = None
    artifacts_dir: str | None = None
    message: str = ""
    reuse: Mapping[str, Any] | None = None  # the lease this run used, if it asked for one
    snapshot: Mapping[str, Any] | None = None  # the snapshot it started from or saved, if asked
    shard: Mapping[str, Any] | None = None  # --shard K/N: what it ran of the collection (report merge)
    runner: Mapping[str, Any] | None = None  # what ran pytest (pipeline/runner.py): runner, why, prefix
    history: Mapping[str, Any] | None = None  # where [history] recorded it: store, run_id (or error)

    def to_dict(self) -> dict[str, Any]:
        optional = (
            ("reuse", self.reuse),
            ("snapshot", self.snapshot),
            ("shard", self.shard),
            ("runner", self.runner),
            ("history", self.history),
        )
        extra = {k: dict(v) for k, v in optional if v is not None}
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "project": self.project,
            "phases": [p.to_dict() for p in self.phases],
            "services": {name: s.to_dict() for name, s in self.services.items()},
            "tests": self.tests.to_dict(),
            "failed_tests": [f.to_dict() for f in self.tests.failures],
            "flaky_tests": list(self.tests.flaky),
            "coverage_percent": None if self.coverage_percent is None else round(self.coverage_percent, 2),
            "artifacts_dir": self.artifacts_dir,
            "message": self.message,
            **extra,
        }
