"""What a run has produced so far: a frozen `RunState`, replaced (never edited) by the sequence
after each step from the product that step returned.

Each step returns one product below; its fields are named after the `RunState` fields it fills,
and `detail`/`status` say what the phase line shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from ci_toolkit.results.model import ServiceResult

if TYPE_CHECKING:
    from ci_toolkit.pipeline.leasing import Prestarted
    from ci_toolkit.pipeline.pytest_run import TestRun
    from ci_toolkit.reuse.identity import Identity
    from ci_toolkit.stack.compose import Stack
    from ci_toolkit.stack.engine import ContainerState, Engine
    from ci_toolkit.stack.events import EventRecorder


@dataclass(frozen=True)
class RunState:
    env: dict[str, str] = field(default_factory=dict)  # what compose and the tests see over os.environ
    model: dict[str, Any] | None = None  # `docker compose config` of the user's files
    engine: Engine | None = None
    secrets: dict[str, str] = field(default_factory=dict)  # for the tests only: never compose, state, disk
    stack: Stack | None = None
    events: EventRecorder | None = None
    up_started: float | None = None  # monotonic time `up` began: readiness is measured from it
    services: dict[str, ServiceResult] = field(default_factory=dict)
    test_run: TestRun | None = None
    # Fast re-runs (--reuse, --snapshot): what the stack is, and what this run did with it.
    identity: Identity | None = None
    warm: bool = False  # the lease's stack is reused as it is: no up, no migrations
    lease_changes: tuple[str, ...] = ()  # why a lease was replaced by a fresh stack
    snapshot_used: str | None = None  # the snapshot the data was loaded from
    snapshot_saved: str | None = None
    migrations_applied: tuple[str, ...] = ()
    lease_ready: bool = False  # the lease has its "just migrated" baseline: keep it after the run
    prestarted: Prestarted | None = None  # a warm run's pytest, forked ahead and waiting at its gate

    def absorb(self, product: Product) -> RunState:
        own = {f.name for f in fields(self)}
        return replace(self, **{f.name: getattr(product, f.name) for f in fields(product) if f.name in own})


@dataclass(frozen=True)
class Product:
    """What a step returns. `detail` is the phase line's text; `status` its status."""

    detail: str = ""

    @property
    def status(self) -> str:
        return "skipped" if self.detail.startswith("skipped") else "ok"


@dataclass(frozen=True)
class Validated(Product):
    env: dict[str, str] = field(default_factory=dict)
    model: dict[str, Any] | None = None
    engine: Engine | None = None
    identity: Identity | None = None
    prestarted: Prestarted | None = None


@dataclass(frozen=True)
class SecretsFetched(Product):
    secrets: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Started(Product):
    stack: Stack | None = None
    events: EventRecorder | None = None
    up_started: float | None = None


@dataclass(frozen=True)
class Upped(Product):
    """The stack is there: reused as it was (`warm`), loaded from a snapshot, or started fresh."""

    warm: bool = False
    lease_changes: tuple[str, ...] = ()
    snapshot_used: str | None = None


@dataclass(frozen=True)
class Migrated(Product):
    migrations_applied: tuple[str, ...] = ()


@dataclass(frozen=True)
class SnapshotSaved(Product):
    snapshot_saved: str | None = None


@dataclass(frozen=True)
class ResetDone(Product):
    lease_ready: bool = False


@dataclass(frozen=True)
class Reached(Product):
    """The live stack's endpoints and the exports rendered from them (env = run env + exports)."""

    services: dict[str, ServiceResult] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Tested(Product):
    test_run: TestRun | None = None
    baseline: dict[str, ContainerState] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "failed" if self.test_run is not None and self.test_run.exit_code != 0 else "ok"
