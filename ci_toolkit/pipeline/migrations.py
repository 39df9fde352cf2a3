"""Apply ordered `NNN_name.sql` files, each in its own transaction, exactly once.

Applied files are recorded in a tracking table (version, name, checksum), so a re-run
against a kept stack applies only the new ones. A failing file is reported with the
server's message and the line it points at.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.errors import ConfigError, MigrationError

FILE_PATTERN = re.compile(r"^(\d+)_([\w.-]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class MigrationResult:
    applied: tuple[str, ...]
    skipped: tuple[str, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": list(self.applied),
            "skipped": list(self.skipped),
            "seconds": round(self.seconds, 3),
        }


def discover(directory: Path) -> list[Migration]:
    if not directory.is_dir():
        raise ConfigError(
            f"migrations directory {directory} does not exist",
            hint="create it or fix migrations.directory in the ci-toolkit config",
        )
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = FILE_PATTERN.match(path.name)
        if not match:
            raise ConfigError(f"{path}: migration files must be named NNN_description.sql")
        version = int(match.group(1))
        if version in found:
            raise ConfigError(f"{path}: version {version} is also used by {found[version].path.name}")
        found[version] = Migration(version, path.name, path)
    return [found[v] for v in sorted(found)]


def apply(
    dsn: str,
    directory: Path,
    table: str = "ci_toolkit_migrations",
    *,
    timeout: float = 120.0,
    on_applied: Callable[[str, float], None] = lambda n, s: None,
) -> MigrationResult:
    import psycopg  # heavy; only needed when migrating

    started = time.monotonic()
    migrations = discover(directory)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", table):
        raise ConfigError(f"migrations.table {table!r} is not a plain SQL identifier")
    try:
        conn = psycopg.connect(dsn, connect_timeout=max(2, int(timeout)), autocommit=True)
    except psycopg.Error as exc:  # unreachable, refused, or a malformed DSN
        raise MigrationError(f"cannot connect to the migrations database: {_first(exc)}") from None
    applied: list[str] = []
    skipped: list[str] = []
    try:
        with conn:
            done = _prepare(conn, table, timeout)
            for migration in migrations:
                if migration.version in done:
                    _check_unchanged(migration, *done[migration.version])
                    skipped.append(migration.name)
                    continue
                t0 = time.monotonic()
                _apply_one(conn, table, migration)
                applied.append(migration.name)
                on_applied(migration.name, time.monotonic() - t0)
    except psycopg.Error as exc:  # the tracking table itself: no privilege, connection lost, ...
        raise MigrationError(f"migrations failed on the tracking table {table}: {_first(exc)}") from None
    return MigrationResult(tuple(applied), tuple(skipped), time.monotonic() - started)


def _prepare(conn: Any, table: str, timeout: float) -> dict[int, tuple[str, str]]:
    """Create the tracking table if needed; return what was applied: version -> (name, checksum)."""
    conn.execute(f"SET statement_timeout = {int(timeout * 1000)}")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (version bigint PRIMARY KEY, name text NOT NULL, "
        "checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    return {row[0]: (row[1], row[2]) for row in conn.execute(f"SELECT version, name, checksum FROM {table}")}


def _check_unchanged(migration: Migration, name: str, checksum: str) -> None:
    if checksum != migration.checksum():
        raise MigrationError(
            f"{migration.path}: already applied as {name} but the file has changed since",
            hint="add a new migration instead of editing an applied one, or start a fresh stack",
        )


def _apply_one(conn: Any, table: str, migration: Migration) -> None:
    import psycopg

    sql = migration.sql()
    try:
        with conn.transaction():
            conn.execute(sql.encode())  # bytes: run as-is, no placeholder parsing
            conn.execute(
                f"INSERT INTO {table} (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum()),
            )
    except psycopg.Error as exc:
        raise MigrationError(
            _describe(migration, sql, exc), hint="fix the file; nothing from it was applied"
        ) from None


def _describe(migration: Migration, sql: str, exc: Any) -> str:
    diag = exc.diag
    message = diag.message_primary or _first(exc)
    where = str(migration.path)
    position = diag.statement_position
    if position:
        line = sql[: int(position) - 1].count("\n") + 1
        where += f", line {line}"
        text = sql.splitlines()[line - 1].strip() if line <= len(sql.splitlines()) else ""
        if text:
            message += f"\n    {line} | {text}"
    code = f" [SQLSTATE {diag.sqlstate}]" if diag.sqlstate else ""
    return f"migration {migration.name} failed ({where}): {message}{code}"


def _first(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
