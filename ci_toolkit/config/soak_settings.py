"""`[soak]` defaults for `ci-toolkit soak`, and durations like `2h`, `90m`, `1h30m`, `45s`.

    [soak]
    duration = "2h"            # or iterations = 500 (both: whichever ends first)
    iteration_timeout = "10m"
    heartbeat = "1m"
    suite = "smoke"
    fail_fast = false
    reuse_stack = false

Command-line options override each key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.config.schema import Table, did_you_mean
from ci_toolkit.errors import UsageError

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s)?", re.I)
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}
DEFAULT_HEARTBEAT = 60.0


@dataclass(frozen=True)
class SoakConfig:
    iterations: int | None = None
    duration: float | None = None  # seconds
    iteration_timeout: float | None = None  # seconds; the phase timeouts bound it anyway
    heartbeat: float = DEFAULT_HEARTBEAT
    suite: str | None = None
    fail_fast: bool = False
    reuse_stack: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class SoakOptions:
    """What one `ci-toolkit soak` does: [soak] defaults with the command line applied."""

    iterations: int | None = None
    duration: float | None = None  # seconds; no new iteration starts after it
    iteration_timeout: float | None = None
    heartbeat: float = DEFAULT_HEARTBEAT
    metrics: Path | None = None
    reuse_stack: bool = False
    fail_fast: bool = False


def parse_duration(value: str | float | int, what: str = "duration") -> float:
    """Seconds from `7200`, `"7200"`, `"2h"`, `"1h30m"`, `"90m"`, `"1.5h"`, `"45s"`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        pos, seconds = 0, 0.0
        while pos < len(text):
            match = _PART.match(text, pos)
            if match is None or match.end() == pos:
                raise UsageError(f"{what}: {value!r} is not a duration; use e.g. 2h, 90m, 1h30m, 45s or 600")
            seconds += float(match.group(1)) * _UNIT[(match.group(2) or "s").lower()]
            pos = match.end()
        if not text:
            raise UsageError(f"{what}: empty duration")
    else:
        raise UsageError(f"{what}: expected a duration like 2h or a number of seconds")
    if seconds <= 0:
        raise UsageError(f"{what}: must be greater than 0, got {value!r}")
    return seconds


def parse(table: Table, suites: Iterable[str]) -> SoakConfig:
    """Read `[soak]`; every problem goes to the table's Problems."""
    values: dict[str, Any] = {}
    iterations = table.get("iterations", int)
    if iterations is not None and iterations < 1:
        table.problems.add(table.key("iterations"), f"must be at least 1, got {iterations}")
        iterations = None
    values["iterations"] = iterations
    for key in ("duration", "iteration_timeout", "heartbeat"):
        table.read.add(key)
        if key not in table.data:
            continue
        raw = table.data[key]
        try:
            values[key] = parse_duration(raw, table.key(key))
        except UsageError as exc:
            table.problems.add(table.key(key), exc.message.split(": ", 1)[1])
    suite = table.get("suite", str)
    known = set(suites)
    if suite is not None and suite not in known:
        listed = ", ".join(sorted(known)) or "none"
        table.problems.add(
            table.key("suite"), f"unknown suite {suite!r}{did_you_mean(suite, known)} (suites: {listed})"
        )
        suite = None
    values["suite"] = suite
    values["fail_fast"] = table.get("fail_fast", bool, False)
    values["reuse_stack"] = table.get("reuse_stack", bool, False)
    table.finish()
    return SoakConfig(**values)
