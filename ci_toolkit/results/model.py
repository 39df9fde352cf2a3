"""Results of a run, as small frozen dataclasses with `to_dict()` for `--json`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
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


@dataclass(frozen=True)
class TestCounts:
    __test__ = False  # not a pytest test class

    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    failures: tuple[FailedTest, ...] = ()

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "failed": self.failed, "errors": self.errors, "skipped": self.skipped}


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

    def to_dict(self) -> dict[str, Any]:
        optional = (("reuse", self.reuse), ("snapshot", self.snapshot), ("shard", self.shard))
        extra = {k: dict(v) for k, v in optional if v is not None}
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "project": self.project,
            "phases": [p.to_dict() for p in self.phases],
            "services": {name: s.to_dict() for name, s in self.services.items()},
            "tests": self.tests.to_dict(),
            "failed_tests": [f.to_dict() for f in self.tests.failures],
            "coverage_percent": None if self.coverage_percent is None else round(self.coverage_percent, 2),
            "artifacts_dir": self.artifacts_dir,
            "message": self.message,
            **extra,
        }
