"""A Postgres database back to "just migrated": a template copy taken after migrations, and the
database dropped and recreated from it before each warm run.

Spoken over `stack/pgwire.py`, not psycopg: importing psycopg alone costs more than this whole
reset. Each statement is its own query (CREATE/DROP DATABASE cannot run in a transaction block),
and every session is opened with statement and lock timeouts, so a stuck server cannot hold the
run past `timeout`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ci_toolkit.config import ServiceCheck
from ci_toolkit.stack import pgwire
from ci_toolkit.stack.pgwire import quote_ident, quote_literal

TEMPLATE_SUFFIX = "_citk_template"
MAX_IDENTIFIER = 63  # bytes (NAMEDATALEN - 1): longer names are silently truncated by the server
OBJECT_IN_USE = "55006"  # "source database ... is being accessed by other users"
INVALID_CATALOG = "3D000"  # the database does not exist
# How often the template copy is retried when a client reconnects to the database between
# ending its connections and the copy (an app container's pool does that).
COPY_ATTEMPTS = 3


class PgResetError(Exception):
    """What went wrong, in words; reset.py names the service and adds the hint."""


@dataclass(frozen=True)
class PgBaseline:
    database: str
    template: str
    owner: str

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "template": self.template, "owner": self.owner}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PgBaseline:
        return cls(str(data["database"]), str(data["template"]), str(data["owner"]))


def template_name(database: str) -> str:
    """`<database>_citk_template`, shortened (with a hash, so it stays unique) to fit 63 bytes."""
    name = database + TEMPLATE_SUFFIX
    if len(name.encode()) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(database.encode()).hexdigest()[:8]
    room = MAX_IDENTIFIER - len(TEMPLATE_SUFFIX) - len(digest) - 1
    head = database.encode()[:room].decode(errors="ignore")  # never half a UTF-8 character
    return f"{head}_{digest}{TEMPLATE_SUFFIX}"


def maintenance_database(database: str) -> str:
    """Where to connect to drop and create `database`: never `database` itself."""
    return "template1" if database == "postgres" else "postgres"


def take(check: ServiceCheck, host: str, port: int, timeout: float) -> PgBaseline:
    """Copy the migrated database into its template (replacing an older one)."""
    database, template = check.database, template_name(check.database)
    deadline = time.monotonic() + timeout
    with _session(check, host, port, timeout) as session:
        rows = _query(
            session,
            f"look up database {database}",
            f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = {quote_literal(database)}",
        )
        if not rows:
            raise PgResetError(f"database {database} does not exist")
        owner = str(rows[0][0])
        _query(
            session, f"drop the old template {template}", f"DROP DATABASE IF EXISTS {quote_ident(template)}"
        )
        for attempt in range(1, COPY_ATTEMPTS + 1):
            _query(session, f"end the connections to {database}", _terminate_sql(database))
            try:
                _query(
                    session,
                    f"copy {database} into the template {template}",
                    f"CREATE DATABASE {quote_ident(template)} TEMPLATE {quote_ident(database)}",
                )
                break
            except _Failed as failed:
                if failed.code != OBJECT_IN_USE or attempt == COPY_ATTEMPTS or time.monotonic() > deadline:
                    raise
        # Nobody may connect to the template: a connection to it would make the copy fail.
        _query(
            session,
            f"close the template {template} to connections",
            f"ALTER DATABASE {quote_ident(template)} WITH ALLOW_CONNECTIONS false",
        )
    return PgBaseline(database, template, owner)


def reset(check: ServiceCheck, host: str, port: int, baseline: PgBaseline, timeout: float) -> str:
    """Drop the database (ending every connection to it) and recreate it from the template."""
    database, template = quote_ident(baseline.database), quote_ident(baseline.template)
    with _session(check, host, port, timeout) as session:
        # One round trip: is the template there (checked before anything is dropped), and end
        # the other connections (DROP .. WITH (FORCE) would too; this also covers PG < 13).
        ((has_template, ended),) = _query(
            session,
            f"end the connections to {baseline.database}",
            f"SELECT (SELECT count(*) FROM pg_database WHERE datname = {quote_literal(baseline.template)}), "
            f"count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = {quote_literal(baseline.database)} AND pid <> pg_backend_pid()",
        )
        if has_template == "0":
            raise PgResetError(f"the template database {baseline.template} (taken after migrations) is gone")
        force = " WITH (FORCE)" if session.server_major >= 13 else ""
        _query(session, f"drop database {baseline.database}", f"DROP DATABASE IF EXISTS {database}{force}")
        _query(
            session,
            f"recreate database {baseline.database} from {baseline.template}",
            f"CREATE DATABASE {database} OWNER {quote_ident(baseline.owner)} TEMPLATE {template}",
        )
    done = f"database {baseline.database} recreated from template"
    return f"{done} ({ended} connections ended)" if ended and ended != "0" else done


class _Failed(PgResetError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def _query(session: pgwire.Session, what: str, sql: str) -> list[pgwire.Row]:
    try:
        return session.query(sql)
    except pgwire.PgError as exc:
        code = f" (SQLSTATE {exc.code})" if exc.code else ""
        raise _Failed(f"could not {what}: {exc}{code}", exc.code) from None


def _terminate_sql(database: str) -> str:
    return (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        f"WHERE datname = {quote_literal(database)} AND pid <> pg_backend_pid()"
    )


def _session(check: ServiceCheck, host: str, port: int, timeout: float) -> pgwire.Session:
    """A session on the maintenance database ("postgres", else template1 if that is missing)."""
    millis = str(max(1, int(timeout * 1000)))
    settings = {"statement_timeout": millis, "lock_timeout": millis}
    first = maintenance_database(check.database)
    for name in dict.fromkeys((first, "template1")):
        try:
            return pgwire.connect(host, port, check.user, check.password, name, timeout, settings=settings)
        except pgwire.PgError as exc:
            if exc.code == INVALID_CATALOG and name != "template1":
                continue
            raise PgResetError(f"could not connect to database {name} as {check.user}: {exc}") from None
        except OSError as exc:
            raise PgResetError(f"could not connect to {host}:{port}: {exc}") from None
    raise AssertionError("unreachable: template1 is the last name tried")
