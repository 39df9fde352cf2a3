"""A Postgres database back to "just migrated": a template copy taken after migrations, and the
database replaced by a fresh copy of it before each warm run.

Copying a database costs 40-80 ms and dropping one 15-70 ms (both write and sync files), more
than the whole reset may take. So a spare copy of the template is kept ready: a reset ends the
database's connections and renames it away (trash), renames the spare into its place (~1 ms
each), and then, in a background thread while the tests start, drops the trash and copies the
next spare. Without a spare (the first reset, or the background work of the last run did not
finish), or if a rename fails, the database is dropped WITH (FORCE) and copied from the
template at once. A reset is correct either way; the spare only makes it fast.

Spoken over `stack/pgwire.py`, not psycopg: importing psycopg alone costs more than this whole
reset. Each statement is its own query (CREATE/DROP DATABASE cannot run in a transaction block),
and every session has statement and lock timeouts, so a stuck server cannot hold the run.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_toolkit.stack import pgwire
from ci_toolkit.stack.pgwire import quote_ident, quote_literal

if TYPE_CHECKING:
    from ci_toolkit.config import ServiceCheck

log = logging.getLogger("ci_toolkit.reuse")

TEMPLATE_SUFFIX = "_citk_template"
SPARE_SUFFIX = "_citk_spare"
TRASH_SUFFIX = "_citk_trash"
MAX_IDENTIFIER = 63  # bytes (NAMEDATALEN - 1): longer names are silently truncated by the server
OBJECT_IN_USE = "55006"  # "source database ... is being accessed by other users"
INVALID_CATALOG = "3D000"  # the database does not exist
# How often the template copy is retried when a client reconnects to the database between
# ending its connections and the copy (an app container's pool does that).
COPY_ATTEMPTS = 3
CONNECTIONS_GONE_WAIT = 1.0  # seconds to wait for ended connections to be gone before the DDL

# The background work of this process, by server and database (a soak resets many times).
_background: dict[tuple[str, int, str], threading.Thread] = {}


class PgResetError(Exception):
    """What went wrong, in words; reset.py names the service and adds the hint."""


@dataclass(frozen=True)
class PgBaseline:
    database: str
    template: str
    owner: str

    @property
    def spare(self) -> str:
        return suffixed(self.database, SPARE_SUFFIX)

    @property
    def trash(self) -> str:
        return suffixed(self.database, TRASH_SUFFIX)

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "template": self.template, "owner": self.owner}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PgBaseline:
        return cls(str(data["database"]), str(data["template"]), str(data["owner"]))


def suffixed(database: str, suffix: str) -> str:
    """`<database><suffix>`, shortened (with a hash, so it stays unique) to fit 63 bytes."""
    name = database + suffix
    if len(name.encode()) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(database.encode()).hexdigest()[:8]
    room = MAX_IDENTIFIER - len(suffix) - len(digest) - 1
    head = database.encode()[:room].decode(errors="ignore")  # never half a UTF-8 character
    return f"{head}_{digest}{suffix}"


def maintenance_database(database: str) -> str:
    """Where to connect to drop and create `database`: never `database` itself."""
    return "template1" if database == "postgres" else "postgres"


def take(check: ServiceCheck, host: str, port: int, timeout: float) -> PgBaseline:
    """Copy the migrated database into its template (replacing an older one and its spare)."""
    database, template = check.database, suffixed(check.database, TEMPLATE_SUFFIX)
    deadline = time.monotonic() + timeout
    session = _session(check, host, port, timeout)
    try:
        rows = _query(
            session,
            f"look up database {database}",
            f"SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = {quote_literal(database)}",
        )
        if not rows:
            raise PgResetError(f"database {database} does not exist")
        baseline = PgBaseline(database, template, str(rows[0][0]))
        for old in (baseline.spare, baseline.trash, template):  # copies of an older state
            _query(session, f"drop the old copy {old}", f"DROP DATABASE IF EXISTS {quote_ident(old)}")
        for attempt in range(1, COPY_ATTEMPTS + 1):
            _end_connections(session, database)
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
    except BaseException:
        session.close()
        raise
    _in_background(session, (host, port, database), baseline)
    return baseline


def reset(check: ServiceCheck, host: str, port: int, baseline: PgBaseline, timeout: float) -> str:
    """Replace the database (ending every connection to it) by a fresh copy of the template."""
    db, key = quote_ident(baseline.database), (host, port, baseline.database)
    if key in _background:  # the spare this process is still copying is nearer than a new copy
        _background.pop(key).join(timeout)
    session = _session(check, host, port, timeout)
    try:
        # One round trip: which copies exist (the template is checked before anything is
        # dropped), and end the other connections to the database.
        names = (baseline.template, baseline.spare, baseline.trash, baseline.database)
        exists = ", ".join(
            f"(SELECT count(*) FROM pg_database WHERE datname = {quote_literal(n)})" for n in names
        )
        has_template, has_spare, has_trash, has_db, ended = _end_connections(
            session, baseline.database, also=exists
        )
        if has_template == "0":
            raise PgResetError(f"the template database {baseline.template} (taken after migrations) is gone")
        done = "swapped for a spare copy of the template"
        if has_spare == "0" or has_trash != "0" or not _swap(session, baseline, has_db != "0"):
            done = "recreated from the template"
            force = " WITH (FORCE)" if session.server_major >= 13 else ""
            _query(session, f"drop database {baseline.database}", f"DROP DATABASE IF EXISTS {db}{force}")
            _query(
                session,
                f"recreate database {baseline.database} from {baseline.template}",
                _copy_sql(baseline.database, baseline),
            )
    except BaseException:
        session.close()
        raise
    _in_background(session, key, baseline)
    plural = "" if ended == "1" else "s"
    connections = f" ({ended} connection{plural} ended)" if ended not in (None, "0") else ""
    return f"database {baseline.database} {done}{connections}"


def settle(timeout: float) -> bool:
    """Wait for the background work (next spare, dropping the trash); True if it all finished.
    Optional: when the process exits first, the server still finishes the statement it runs."""
    deadline = time.monotonic() + timeout
    for key, thread in list(_background.items()):
        thread.join(max(0.0, deadline - time.monotonic()))
        if not thread.is_alive():
            _background.pop(key, None)
    return not _background


def _swap(session: pgwire.Session, baseline: PgBaseline, has_db: bool) -> bool:
    """The database renamed to trash and the spare to the database; False if it cannot be."""
    db, spare, trash = (quote_ident(n) for n in (baseline.database, baseline.spare, baseline.trash))
    try:
        if has_db:
            _query(session, "rename the database away", f"ALTER DATABASE {db} RENAME TO {trash}")
        _query(session, "rename the spare into place", f"ALTER DATABASE {spare} RENAME TO {db}")
    except _Failed as failed:  # e.g. a client reconnected in between: drop it WITH (FORCE) instead
        log.debug("postgres reset: no fast swap for %s: %s", baseline.database, failed)
        return False
    return True


def _in_background(session: pgwire.Session, key: tuple[str, int, str], baseline: PgBaseline) -> None:
    """Drop the trash and copy the next spare, on `session`, in a thread; closes the session."""

    def prepare() -> None:
        try:
            session.query(f"DROP DATABASE IF EXISTS {quote_ident(baseline.trash)}")
            if not session.query(
                f"SELECT 1 FROM pg_database WHERE datname = {quote_literal(baseline.spare)}"
            ):
                session.query(_copy_sql(baseline.spare, baseline))
        except (OSError, pgwire.PgError) as exc:  # the next reset is just slower: it copies at once
            log.debug("postgres reset: preparing the next spare of %s failed: %s", baseline.database, exc)
        finally:
            session.close()

    thread = threading.Thread(target=prepare, name=f"citk-pg-spare-{baseline.database}", daemon=True)
    _background[key] = thread
    thread.start()


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
    except OSError as exc:  # a timeout, or the server went away
        raise _Failed(f"could not {what}: {type(exc).__name__}: {exc}", "") from None


def _copy_sql(name: str, baseline: PgBaseline) -> str:
    owner, template = quote_ident(baseline.owner), quote_ident(baseline.template)
    return f"CREATE DATABASE {quote_ident(name)} OWNER {owner} TEMPLATE {template}"


def _end_connections(session: pgwire.Session, database: str, *, also: str = "") -> pgwire.Row:
    """End every other connection to `database` and wait until they are gone: DDL on a database
    waits for its connections in steps of 100 ms, this polls every millisecond. The row: the
    values of the `also` expressions, then how many connections were ended."""
    where = f"WHERE datname = {quote_literal(database)} AND pid <> pg_backend_pid()"
    terminate = f"count(pg_terminate_backend(pid)) FROM pg_stat_activity {where}"
    (row,) = _query(
        session, f"end the connections to {database}", f"SELECT {also + ', ' if also else ''}{terminate}"
    )
    if row[-1] != "0":
        deadline = time.monotonic() + CONNECTIONS_GONE_WAIT
        remaining = f"SELECT count(*) FROM pg_stat_activity {where}"
        while _query(session, f"count the connections to {database}", remaining)[0][0] != "0":
            if time.monotonic() > deadline:
                break  # the DDL waits (up to 5 s) or fails, and says which
            time.sleep(0.001)
    return row


def _session(check: ServiceCheck, host: str, port: int, timeout: float) -> pgwire.Session:
    """A session on the maintenance database ("postgres", else template1 if that is missing)."""
    millis = str(max(1, int(timeout * 1000)))
    # synchronous_commit off: a rename's commit does not wait for a WAL flush (CREATE and DROP
    # DATABASE flush anyway); a server crash right after it loses no data of the tests'.
    settings = {"statement_timeout": millis, "lock_timeout": millis, "synchronous_commit": "off"}
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
