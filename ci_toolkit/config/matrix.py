"""The service-version matrix: `[matrix]` axes over compose variables (and suites).

    [matrix]
    POSTGRES_IMAGE = ["postgres:15", "postgres:17"]
    suite = ["smoke", "full"]                       # optional: the suite is an axis too
    exclude = [{ POSTGRES_IMAGE = "postgres:15", suite = "smoke" }]
    include = [{ POSTGRES_IMAGE = "postgres:17", EXPECT_POSTGRES_MAJOR = "17" }]

Expansion follows GitHub Actions' own `strategy.matrix` rules (product of the axes in
declaration order; `exclude` removes partial matches; each `include` entry adds its extra
keys to every cell it does not contradict, or becomes a new cell), so `ci-toolkit matrix`
prints the cells already expanded, each with a `name` and an artifact-safe `slug`.
A cell's variables (everything but `suite`) go to compose interpolation and to the tests.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ci_toolkit.config.schema import Problems, Table, did_you_mean
from ci_toolkit.errors import UsageError

SUITE = "suite"
DERIVED = ("name", "slug", "shard")  # keys `ci-toolkit matrix` and `shard plan` add; ignored on input
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Cell:
    values: tuple[tuple[str, str], ...]  # in order: axes first, then keys added by include
    axes: tuple[str, ...] = ()

    @property
    def mapping(self) -> dict[str, str]:
        return dict(self.values)

    @property
    def suite(self) -> str | None:
        return self.mapping.get(SUITE)

    @property
    def env(self) -> dict[str, str]:
        return {k: v for k, v in self.values if k != SUITE}

    @property
    def name(self) -> str:
        shown = [v for k, v in self.values if k in self.axes] or [v for _, v in self.values]
        return " / ".join(shown)

    def to_dict(self, slug: str | None = None) -> dict[str, str]:
        return {**self.mapping, "name": self.name, "slug": slug or slugify(self.name)}


@dataclass(frozen=True)
class Matrix:
    axes: tuple[tuple[str, tuple[str, ...]], ...]
    include: tuple[tuple[tuple[str, str], ...], ...] = ()
    exclude: tuple[tuple[tuple[str, str], ...], ...] = ()

    @property
    def axis_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.axes)

    def keys(self) -> list[str]:
        extra = [k for entry in self.include for k, _ in entry if k not in self.axis_names]
        return list(dict.fromkeys([*self.axis_names, *extra]))

    def values_of(self, key: str) -> list[str]:
        listed = list(dict(self.axes).get(key, ()))
        return list(dict.fromkeys([*listed, *(v for e in self.include for k, v in e if k == key)]))

    def cells(self) -> list[Cell]:
        names = self.axis_names
        combos = [
            dict(zip(names, values, strict=True)) for values in itertools.product(*dict(self.axes).values())
        ]
        if not names:
            combos = []
        combos = [c for c in combos if not any(_matches(c, dict(e)) for e in self.exclude)]
        added: list[dict[str, str]] = [{} for _ in combos]
        extra_cells: list[dict[str, str]] = []
        for entry in (dict(e) for e in self.include):
            fits = [i for i, c in enumerate(combos) if all(c[k] == v for k, v in entry.items() if k in c)]
            for i in fits:
                added[i].update({k: v for k, v in entry.items() if k not in combos[i]})
            if not fits:
                extra_cells.append(entry)
        rows = [{**c, **a} for c, a in zip(combos, added, strict=True)] + extra_cells
        return [Cell(tuple(row.items()), names) for row in rows]

    def to_json(self, cells: Sequence[Cell] | None = None) -> dict[str, list[dict[str, str]]]:
        """`{"include": [...]}`: what `strategy.matrix: ${{ fromJSON(...) }}` takes."""
        cells = self.cells() if cells is None else cells
        slugs: dict[str, int] = {}
        out = []
        for cell in cells:
            slug = slugify(cell.name)
            slugs[slug] = slugs.get(slug, 0) + 1
            out.append(cell.to_dict(slug if slugs[slug] == 1 else f"{slug}-{slugs[slug]}"))
        return {"include": out}


def slugify(text: str) -> str:
    """Safe in artifact names (no `:` `/` `"` ...) and file names."""
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-.") or "cell"


def _matches(cell: Mapping[str, str], pattern: Mapping[str, str]) -> bool:
    return all(cell.get(k) == v for k, v in pattern.items())


# -- config ------------------------------------------------------------------------------


def parse(table: Table, suites: Iterable[str]) -> Matrix | None:
    """Read `[matrix]`; every problem goes to the table's Problems."""
    if not table.data:
        return None
    problems, suite_names = table.problems, set(suites)
    axes: list[tuple[str, tuple[str, ...]]] = []
    for key in table.data:
        if key in ("include", "exclude"):
            continue
        values = table.str_list(key)
        where = table.key(key)
        if not _key_ok(key, where, problems):
            continue
        if not values and isinstance(table.data[key], list):
            problems.add(where, 'expected a non-empty array of strings, e.g. ["postgres:15", "postgres:17"]')
            continue
        if len(set(values)) != len(values):
            problems.add(where, "a value is listed twice")
        if key == SUITE:
            _check_suites(values, suite_names, where, problems)
        axes.append((key, values))
    axis_values = dict(axes)
    exclude = _entries(table, "exclude", problems)
    for i, entry in enumerate(exclude):
        for key, value in entry:
            where = f"{table.key('exclude')}[{i}].{key}"
            if key not in axis_values:
                problems.add(where, f"not an axis of the matrix{did_you_mean(key, axis_values)}")
            elif value not in axis_values[key]:
                problems.add(where, f"{value!r} is not a value of axis {key} ({', '.join(axis_values[key])})")
    include = _entries(table, "include", problems)
    for i, entry in enumerate(include):
        for key, value in entry:
            where = f"{table.key('include')}[{i}].{key}"
            if _key_ok(key, where, problems) and key == SUITE:
                _check_suites([value], suite_names, where, problems)
    if not axes and not include:
        problems.add(
            table.path, 'declare at least one axis, e.g. POSTGRES_IMAGE = ["postgres:15", "postgres:17"]'
        )
    table.finish()
    return Matrix(tuple(axes), tuple(include), tuple(exclude))


def _key_ok(key: str, where: str, problems: Problems) -> bool:
    if key in DERIVED:
        problems.add(where, f"{key!r} is reserved: `ci-toolkit matrix` adds it to every cell")
        return False
    if key != SUITE and not _VARIABLE.match(key):
        problems.add(where, "an axis is an environment variable name (letters, digits, _) or `suite`")
        return False
    return True


def _check_suites(values: Iterable[str], suites: set[str], where: str, problems: Problems) -> None:
    for value in values:
        if value not in suites:
            known = ", ".join(sorted(suites)) or "none defined"
            problems.add(where, f"unknown suite {value!r}{did_you_mean(value, suites)} (suites: {known})")


def _entries(table: Table, name: str, problems: Problems) -> tuple[tuple[tuple[str, str], ...], ...]:
    items = table.get(name, list, [])
    entries = []
    for i, item in enumerate(items):
        where = f"{table.key(name)}[{i}]"
        if not isinstance(item, dict) or not item:
            problems.add(where, 'expected a non-empty table, e.g. { POSTGRES_IMAGE = "postgres:15" }')
            continue
        bad = [k for k, v in item.items() if not isinstance(v, str)]
        if bad:
            problems.add(f"{where}.{bad[0]}", "expected a string")
            continue
        entries.append(tuple(item.items()))
    return tuple(entries)


# -- picking cells -----------------------------------------------------------------------


def parse_entry(text: str) -> dict[str, str]:
    """A `--matrix-entry` / CI_TOOLKIT_MATRIX_ENTRY value: a JSON object of strings."""
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--matrix-entry is not JSON: {exc.msg} at column {exc.colno}: {text!r}") from None
    if not isinstance(data, dict):
        raise UsageError(
            f'--matrix-entry must be a JSON object like {{"POSTGRES_IMAGE": "postgres:17"}}, got {text!r}'
        )
    entry = {}
    for key, value in data.items():
        if isinstance(value, bool):
            value = str(value).lower()
        elif isinstance(value, int | float):
            value = str(value)
        elif not isinstance(value, str):
            raise UsageError(f"--matrix-entry: {key}: expected a string, got {json.dumps(value)}")
        entry[key] = value
    return entry


def resolve(matrix: Matrix | None, entry: Mapping[str, str], source: object = "config") -> Cell:
    """The cell an entry (whole or partial) names. Keys every matching cell agrees on are kept."""
    if matrix is None:
        raise UsageError(f"--matrix-entry given, but {source} has no [matrix] table", hint="README: Matrix")
    wanted = {k: v for k, v in entry.items() if k not in DERIVED}
    if not wanted:
        raise UsageError("--matrix-entry names no matrix key", hint=f"keys: {', '.join(matrix.keys())}")
    _check_pairs(matrix, wanted.items(), "--matrix-entry")
    cells = [c for c in matrix.cells() if _matches(c.mapping, wanted)]
    if not cells:
        raise UsageError(f"--matrix-entry {json.dumps(wanted)} matches no cell of the matrix (excluded?)")
    agreed = [(k, v) for k, v in cells[0].values if all(c.mapping.get(k) == v for c in cells)]
    values = dict(agreed)
    values.update(wanted)
    return Cell(tuple(values.items()), matrix.axis_names)


def select(matrix: Matrix, only: Sequence[str]) -> list[Cell]:
    """Cells matching every `KEY=VALUE` filter (`ci-toolkit matrix --only suite=full`)."""
    pairs = []
    for item in only:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--only takes KEY=VALUE, got {item!r}")
        pairs.append((key.strip(), value.strip()))
    _check_pairs(matrix, pairs, "--only")
    return [c for c in matrix.cells() if all(c.mapping.get(k) == v for k, v in pairs)]


def _check_pairs(matrix: Matrix, pairs: Iterable[tuple[str, str]], what: str) -> None:
    keys = matrix.keys()
    for key, value in pairs:
        if key not in keys:
            raise UsageError(
                f"{what}: {key!r} is not a matrix key{did_you_mean(key, keys)} (keys: {', '.join(keys)})"
            )
        allowed = matrix.values_of(key)
        if value not in allowed:
            raise UsageError(
                f"{what}: {value!r} is not a value of {key}{did_you_mean(value, allowed)} "
                f"(values: {', '.join(allowed)})"
            )
