"""The durations ledger (`durations.json`): what each test costs, for the shard planner.

Per test id: the call time, setup and teardown kept apart, each an exponentially smoothed mean
over the runs that ran the test, and how many runs that was. Setup and teardown are kept apart
because a module or session fixture's setup lands on whichever test happens to run first: a
test's cost counts its own setup and teardown only up to the suite's median (`costs`), so one
slow fixture does not make one test look slow.

After every run the ledger is updated from the run's phase timings (`pytest_shard` writes them;
JUnit's times when they are missing: a pytest without our plugin). Ids whose file was collected
without them, or whose file is gone, are dropped. Shards of one run each write an updated ledger
into their run dir; `report merge` merges them (`merge`): per test, the entry that saw most runs.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ci_toolkit.errors import ConfigError

FILE_NAME = "durations.json"
PHASES_FILE = "phases.tsv"  # pytest_shard's per-phase record, in the run dir
COLLECTED_FILE = "collected.txt"  # pytest_shard's whole collection, in the run dir
SMOOTHING = 0.5  # weight of the newest run: halves a stale figure's influence every run
VERSION = 1
PHASES = ("setup", "call", "teardown")


@dataclass(frozen=True)
class Timing:
    call: float
    setup: float = 0.0
    teardown: float = 0.0
    runs: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "call": round(self.call, 4),
            "setup": round(self.setup, 4),
            "teardown": round(self.teardown, 4),
            "runs": self.runs,
        }

    def smoothed(self, seen: Timing) -> Timing:
        def mix(old: float, new: float) -> float:
            return old + SMOOTHING * (new - old)

        return Timing(
            mix(self.call, seen.call),
            mix(self.setup, seen.setup),
            mix(self.teardown, seen.teardown),
            self.runs + 1,
        )


@dataclass(frozen=True)
class Ledger:
    tests: Mapping[str, Timing] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"version": VERSION, "tests": {k: self.tests[k].to_dict() for k in sorted(self.tests)}}

    def costs(self) -> dict[str, float]:
        """Seconds per test for `partition`: call time plus setup and teardown, each capped at
        the suite's median (a shared fixture's setup is not one test's cost)."""
        setup_cap, teardown_cap = self._caps()
        return {
            k: t.call + min(t.setup, setup_cap) + min(t.teardown, teardown_cap) for k, t in self.tests.items()
        }

    def shared_setup(self) -> dict[str, float]:
        """Per module file, the setup and teardown above the medians that its tests recorded: its
        shared fixtures' cost, which every shard the module is split over pays again."""
        setup_cap, teardown_cap = self._caps()
        shared: dict[str, float] = {}
        for test_id, t in self.tests.items():
            excess = max(t.setup - setup_cap, 0.0) + max(t.teardown - teardown_cap, 0.0)
            if excess > 0:
                module = test_id.split("::", 1)[0]
                shared[module] = shared.get(module, 0.0) + excess
        return shared

    def plan_input(self) -> dict[str, dict[str, float]]:
        """What `pytest_shard` splits by (CI_TOOLKIT_SHARD_COSTS)."""
        return {"tests": self.costs(), "setup": self.shared_setup()}

    def _caps(self) -> tuple[float, float]:
        if not self.tests:
            return 0.0, 0.0
        timings = self.tests.values()
        return statistics.median(t.setup for t in timings), statistics.median(t.teardown for t in timings)

    def updated(
        self, seen: Mapping[str, Timing], collected: Iterable[str] = (), *, root: Path | None = None
    ) -> Ledger:
        tests = dict(self.tests)
        for test_id, timing in seen.items():
            old = tests.get(test_id)
            tests[test_id] = old.smoothed(timing) if old else replace(timing, runs=1)
        return Ledger(_drop_stale(tests, set(collected), root))


def _drop_stale(tests: dict[str, Timing], collected: set[str], root: Path | None) -> dict[str, Timing]:
    files = {_file_of(i) for i in collected}

    def stale(test_id: str) -> bool:
        path = _file_of(test_id)
        if path in files:
            return test_id not in collected
        return root is not None and not (root / path).exists()

    return {k: v for k, v in tests.items() if not stale(k)}


def _file_of(test_id: str) -> str:
    return test_id.split("::", 1)[0]


def load(path: Path) -> Ledger:
    """A missing ledger is an empty one (the first run splits by count)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Ledger()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the durations ledger: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
        tests = {str(k): _timing(v) for k, v in data["tests"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{path}: not a durations ledger ({exc.__class__.__name__}: {exc})",
            hint="delete it: the next run records a new one (until then shards split by count)",
        ) from exc
    return Ledger(tests)


def _timing(entry: Mapping[str, Any]) -> Timing:
    return Timing(
        float(entry["call"]),
        float(entry.get("setup", 0)),
        float(entry.get("teardown", 0)),
        int(entry.get("runs", 1)),
    )


def save(ledger: Ledger, path: Path) -> None:
    """Atomically: a reader (another shard, a cache upload) never sees half a ledger."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(ledger.to_dict(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_phases(path: Path) -> dict[str, Timing]:
    """`pytest_shard`'s record -> one Timing per test (a rerun's attempts add up)."""
    seconds: dict[str, dict[str, float]] = {}
    try:
        # A test id with bytes that are not UTF-8 (a parametrize value) must not stop a run.
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return {}
    for line in lines:
        when, _, rest = line.partition("\t")
        value, _, test_id = rest.partition("\t")
        if when not in PHASES or not test_id:
            continue
        try:
            taken = float(value)
        except ValueError:
            continue  # a line cut short by a kill
        phases = seconds.setdefault(test_id, {})
        phases[when] = phases.get(when, 0.0) + taken
    return {
        k: Timing(v.get("call", 0.0), v.get("setup", 0.0), v.get("teardown", 0.0)) for k, v in seconds.items()
    }


def read_collected(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line]
    except FileNotFoundError:
        return []


def merge(ledgers: Iterable[Ledger]) -> Ledger:
    """Shards' ledgers -> one. Each shard started from the same ledger, collected the same tests
    (so dropped the same stale ids) and updated the tests it ran: per test, the entry that saw
    the most runs is the newest."""
    tests: dict[str, Timing] = {}
    for led in ledgers:
        for test_id, timing in led.tests.items():
            best = tests.get(test_id)
            if best is None or timing.runs > best.runs:
                tests[test_id] = timing
    return Ledger(tests)
