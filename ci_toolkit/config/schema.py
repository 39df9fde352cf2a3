"""Small helpers to validate a TOML table against a declared set of keys and types.

Problems are collected, not raised one by one, so a user sees every mistake in one go.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "an array",
    dict: "a table",
}


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Problems:
    """Collects validation problems for one file; `where` names the key path."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{self.source}: {where}: {message}")

    def __bool__(self) -> bool:
        return bool(self.items)


class Table:
    """A view of one TOML table that type-checks reads and reports unknown keys."""

    def __init__(self, data: Mapping[str, Any], path: str, problems: Problems) -> None:
        self.data = data
        self.path = path
        self.problems = problems
        self.read: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def get(self, name: str, kind: type, default: Any = None) -> Any:
        self.read.add(name)
        if name not in self.data:
            return default
        value = self.data[name]
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            self.problems.add(
                self.key(name),
                f"expected {_TYPE_NAMES.get(kind, kind.__name__)}, got {_describe(value)}",
            )
            return default
        return value

    def str_list(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self.get(name, list, None)
        if value is None:
            return default
        bad = [v for v in value if not isinstance(v, str)]
        if bad:
            self.problems.add(self.key(name), f"expected an array of strings, got {_describe(bad[0])}")
            return default
        return tuple(value)

    def table(self, name: str) -> Table:
        value = self.get(name, dict, {})
        return Table(value, self.key(name), self.problems)

    def positive(self, name: str, default: float) -> float:
        value = self.get(name, float, default)
        if value <= 0:
            self.problems.add(self.key(name), f"must be greater than 0, got {value:g}")
            return default
        return float(value)

    def port(self, name: str, default: int | None = None) -> int | None:
        value = self.get(name, int, default)
        if value is not None and not 0 < value < 65536:
            self.problems.add(self.key(name), f"expected a port number 1-65535, got {value}")
            return default
        return int(value) if value is not None else None

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
        value = self.get(name, str, default)
        if value is not None and value not in choices:
            self.problems.add(
                self.key(name),
                f"expected one of {', '.join(choices)}, got {value!r}{did_you_mean(value, choices)}",
            )
            return default
        return str(value) if value is not None else None

    def finish(self, allowed_extra: Iterable[str] = ()) -> None:
        """Report keys that were never read: unknown keys, with a near-miss suggestion."""
        known = self.read | set(allowed_extra)
        for name in self.data:
            if name not in known:
                self.problems.add(self.key(name), f"unknown key{did_you_mean(name, known)}")


def _describe(value: Any) -> str:
    for kind, label in _TYPE_NAMES.items():
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return f"{label} ({value!r})" if kind in (str, int, float, bool) else label
    return type(value).__name__
