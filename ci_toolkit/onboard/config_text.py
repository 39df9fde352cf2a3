"""The config init writes: `[tool.ci-toolkit]` in pyproject.toml or a ci-toolkit.toml, through
tomlkit so every comment and the formatting stay.

Init adds what is missing and never changes what is there: a key or a service table you wrote
(or edited after a first init) is yours. So a second run changes nothing, and `--check` reports
only what init would add. In pyproject.toml only our block is re-rendered: the text from our
first header up to the next foreign one is parsed alone, merged and put back, so every byte
outside it stays as it was (tomlkit alone moves comments that sit above the next table).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from typing import Any

from ci_toolkit.errors import ConfigError
from ci_toolkit.onboard.infer import Inferred

TABLE = "tool.ci-toolkit"
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
FIX_HINT = "fix the file; init edits it in place"
HEADER_COMMENT = "# Written by `ci-toolkit init`; yours to edit (init only adds what is missing)."


def desired(inferred: Inferred, compose_files: Sequence[str], test_paths: Sequence[str],
            coverage_source: Sequence[str], migrations_dir: str | None) -> dict[str, Any]:  # fmt: skip
    """What init would write, as plain data in the order it is written."""
    table: dict[str, Any] = {"compose_files": list(compose_files)}
    if inferred.dynamic_ports:
        table["ports"] = "dynamic"
    if inferred.start:
        table["start"] = list(inferred.start)
    env: dict[str, Any] = {}
    if inferred.env_required:
        env["required"] = list(inferred.env_required)
    if inferred.env_defaults:
        env["defaults"] = dict(inferred.env_defaults)
    if env:
        table["env"] = env
    if inferred.services:
        table["services"] = {s.name: {"kind": s.kind, "port": s.port, **s.extra} for s in inferred.services}
    if inferred.exports:
        table["export"] = dict(inferred.exports)
    if migrations_dir and inferred.migrations_dsn:
        table["migrations"] = {"directory": migrations_dir, "dsn": inferred.migrations_dsn}
    pytest: dict[str, Any] = {}
    if test_paths:
        pytest["paths"] = list(test_paths)
    if coverage_source:
        pytest["coverage_source"] = list(coverage_source)
    if pytest:
        table["pytest"] = pytest
    return table


def toolkit_toml(before: str | None, table: Mapping[str, Any]) -> str:
    import tomlkit

    doc = _parse(before, "ci-toolkit.toml") if before is not None else tomlkit.document()
    if before is None:
        doc.add(tomlkit.comment(HEADER_COMMENT[2:]))
    _merge(doc, table)
    return tomlkit.dumps(doc)


def pyproject(before: str, table: Mapping[str, Any]) -> str:
    import tomlkit

    lines = before.splitlines(keepends=True)
    span = _our_span(lines)
    if span is None:  # no block yet: appended, after one blank line
        block = tomlkit.document()
        block.add(tomlkit.comment(HEADER_COMMENT[2:]))
        block.add("tool", tomlkit.table(is_super_table=True))
        _merge(block["tool"].setdefault("ci-toolkit", tomlkit.table()), table)
        sep = (
            ""
            if not before.strip() or before.endswith("\n\n")
            else ("\n" if before.endswith("\n") else "\n\n")
        )
        after = before + sep + tomlkit.dumps(block)
    else:
        start, end = span
        if _foreign_inside(lines[start:end]):  # our tables are split by another: edit the whole file
            doc = _parse(before, "pyproject.toml")
            _merge(doc["tool"]["ci-toolkit"], table)
            after = tomlkit.dumps(doc)
        else:
            part = _parse("".join(lines[start:end]), "pyproject.toml")
            _merge(part["tool"]["ci-toolkit"], table)
            after = "".join(lines[:start]) + tomlkit.dumps(part) + "".join(lines[end:])
    _reparse(after)
    return after


def _parse(text: str, name: str) -> Any:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(f"{name}: not valid TOML ({exc})", hint=FIX_HINT) from None


def _merge(existing: Any, wanted: Mapping[str, Any]) -> None:
    """Add the keys of `wanted` that `existing` lacks. Sub-tables: a missing service gets its
    table, and an export is added only with the service it reads (an export table you wrote
    stays yours: DB_URL is not joined by a DATABASE_URL)."""
    added: set[str] = set()
    for key, value in wanted.items():
        if key not in existing:
            existing[key] = _item(key, value)
            added.update(value if key == "services" else ())
        elif key == "services":
            for name, service in value.items():
                if name not in existing[key]:
                    existing[key][name] = _item(name, service)
                    added.add(name)
        elif key == "export":
            for name, template in value.items():
                if name not in existing[key] and any(f"{{{s}." in template for s in added):
                    existing[key][name] = template


def parse_table(text: str, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML ({exc})", hint=FIX_HINT) from None


def _item(key: str, value: Any) -> Any:
    """`value` as tomlkit writes it: [env] defaults inline, a table per service under a super
    table ([tool.ci-toolkit.services.db], no empty [….services]), other tables as tables."""
    import tomlkit

    if not isinstance(value, Mapping):
        return value
    if key == "defaults":
        inline = tomlkit.inline_table()
        inline.update(value)
        return inline
    table = tomlkit.table(is_super_table=key == "services")
    for k, v in value.items():
        table[k] = _item(k, v)
    return table


def _our_span(lines: Sequence[str]) -> tuple[int, int] | None:
    """The lines from our first table header to the next foreign one, less the comments and blank
    lines right above that one (they belong to it). None when there is no block of ours."""
    headers = [
        (i, m.group(1).strip().strip('"')) for i, line in enumerate(lines) if (m := _HEADER.match(line))
    ]
    ours = [i for i, name in headers if _is_ours(name)]
    if not ours:
        return None
    start = ours[0]
    end = next((i for i, name in headers if i > ours[-1] and not _is_ours(name)), len(lines))
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return start, end


def _foreign_inside(lines: Sequence[str]) -> bool:
    return any((m := _HEADER.match(line)) and not _is_ours(m.group(1).strip()) for line in lines)


def _is_ours(name: str) -> bool:
    name = re.sub(r"\s*\.\s*", ".", name).replace('"', "")
    return name == TABLE or name.startswith(TABLE + ".")


def _reparse(text: str) -> None:
    """The edited pyproject.toml must still be TOML and hold our table (a dotted `tool.ci-toolkit`
    key elsewhere would make a second one): checked before anything is written."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"pyproject.toml: adding [{TABLE}] would not be valid TOML ({exc})",
            hint="write the config to ci-toolkit.toml instead: ci-toolkit init --config-file ci-toolkit.toml",
        ) from None
    if not isinstance(data.get("tool", {}).get("ci-toolkit"), dict):
        raise ConfigError(f"pyproject.toml: [{TABLE}] could not be added", hint="use ci-toolkit.toml")
