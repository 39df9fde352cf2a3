"""A history store in a directory: each run's files under runs/<run_id>/, indexed in SQLite.

    STORE/index.sqlite                  runs(run_id, finished_at, branch, commit, cell, status, path)
    STORE/runs/<run_id>/record.json.gz  the RunRecord
    STORE/runs/<run_id>/run.json.gz ... the run's own files

A run's files are written into a temporary directory beside the others and renamed into place
(atomic), and only then is the run indexed: `runs()` never meets half a run, and a writer killed
on the way leaves at most a `.tmp-*` directory that nothing names. A run recorded again is
replaced without a moment where neither copy exists: the old directory is renamed aside
(`.old-*`, which readers fall back to), the new one renamed in, and only then the old deleted.
The index is in WAL mode with a busy timeout, so writers in several processes (parallel CI jobs
on one machine, soak) wait for each other instead of failing, and readers never wait for writers.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from ci_toolkit.errors import HistoryError
from ci_toolkit.history.model import RunRecord
from ci_toolkit.history.store import checked_id, compress, pack, skipped, unpack

INDEX = "index.sqlite"
RUNS = "runs"
RECORD = "record.json.gz"
ASIDE = ".old-"  # runs/.old-<run_id>-<pid>-<hex>: a run set aside while its replacement moves in
BUSY_SECONDS = 60.0  # how long a writer waits for the others; far beyond any one insert
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    finished_at REAL NOT NULL,
    branch TEXT,
    "commit" TEXT,
    cell TEXT,
    status TEXT NOT NULL,
    path TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_branch ON runs (branch, run_id);
"""
WRITE_HINT = (
    "make the directory writable or free some space there, or point --store ([history] store in "
    "the config) elsewhere"
)


class LocalStore:
    def __init__(self, uri: str, path: Path) -> None:
        self.uri = uri
        self.path = path

    @property
    def named(self) -> str:
        """The store as the user wrote it, and where that is when it is relative."""
        return self.uri if Path(self.uri) == self.path else f"{self.uri} ({self.path})"

    # -- writing ----------------------------------------------------------------------------
    def put(self, record: RunRecord, files: Mapping[str, bytes]) -> None:
        run_id = checked_id(self.uri, record.run_id)
        self._check_is_store()
        staged = self.path / RUNS / f".tmp-{run_id}-{os.getpid()}-{secrets.token_hex(4)}"
        placed = False
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            # The index first: it is what makes the directory a store for a writer beside us, and
            # opening it for writing names the reason (read-only, permissions) a write would fail.
            os.close(os.open(self.path / INDEX, os.O_WRONLY | os.O_CREAT, 0o644))
            with self._connect() as db:
                self._stage(staged, record, files)
                known = db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
                self._place(staged, run_id, replacing=known is not None)
                placed = True
                db.execute(
                    'INSERT OR REPLACE INTO runs (run_id, finished_at, branch, "commit", cell, status, path)'
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        run_id,
                        record.finished_at,
                        record.branch,
                        record.commit,
                        record.cell,
                        record.status,
                        f"{RUNS}/{run_id}/{RECORD}",
                    ),
                )
        except OSError as exc:
            raise self._unwritable(exc.strerror or str(exc), exc.filename or self.path) from exc
        except sqlite3.Error as exc:
            raise self._unwritable(str(exc), self.path / INDEX) from exc
        finally:
            if not placed:  # a full disk, a signal: no half-written run is left behind
                shutil.rmtree(staged, ignore_errors=True)

    @staticmethod
    def _stage(staged: Path, record: RunRecord, files: Mapping[str, bytes]) -> None:
        """The run's files, compressed, in a new directory of runs/. Not fsynced: a run is kept
        against a killed writer (rename), not against the machine losing power mid-run."""
        staged.parent.mkdir(exist_ok=True)
        staged.mkdir()
        for name, data in files.items():
            (staged / f"{Path(name).name}.gz").write_bytes(compress(data))
        (staged / RECORD).write_bytes(pack(record))

    def _place(self, staged: Path, run_id: str, *, replacing: bool) -> None:
        """runs/<run_id> becomes `staged`; a run kept before under this id is replaced whole. The
        old one is renamed aside first and deleted only once the new one is in place: a writer
        killed between the two renames leaves the old run aside, where readers still find it.
        `replacing`: the index names this run already (so a killed writer may have left an aside)."""
        target = self.path / RUNS / run_id
        for _ in range(10):  # another writer may be replacing the same run right now
            aside = target.with_name(f"{ASIDE}{run_id}-{os.getpid()}-{secrets.token_hex(4)}")
            try:
                target.rename(aside)
                replacing = True
            except FileNotFoundError:
                pass  # a new run (or one a killed writer set aside)
            try:
                staged.rename(target)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                continue  # another writer's copy came in between: that one is set aside next
            # Listing runs/ costs a little with thousands of runs: only when something may be aside.
            for old in self._asides(run_id) if replacing else ():  # ours, any a killed writer left
                shutil.rmtree(old, ignore_errors=True)
            return
        raise OSError(errno.EBUSY, "another writer keeps replacing this run", str(target))

    def _asides(self, run_id: str) -> list[Path]:
        """The copies of a run set aside while it was being replaced (`_place`), newest first."""
        name = re.compile(rf"{re.escape(ASIDE + run_id)}-\d+-[0-9a-f]{{8}}")
        try:
            found = [p for p in (self.path / RUNS).iterdir() if name.fullmatch(p.name)]
        except OSError:
            return []
        return sorted(found, key=_mtime, reverse=True)

    # -- reading ----------------------------------------------------------------------------
    def runs(self, last: int | None = None, branch: str | None = None) -> Sequence[RunRecord]:
        self._check_is_store()
        if not (self.path / INDEX).is_file():
            return []  # nothing recorded yet
        query = "SELECT run_id, path FROM runs" + (" WHERE branch = ?" if branch else "")
        query += " ORDER BY run_id DESC"
        found: list[RunRecord] = []
        try:
            rows = self._rows(query, (branch,) if branch else ())
        except sqlite3.Error as exc:
            raise HistoryError(
                f"history store {self.uri}: its index {self.path / INDEX} cannot be read: {exc}",
                hint="if it is damaged, move it away and record the runs' artifacts dirs again "
                "(`ci-toolkit history record DIR`)",
            ) from exc
        for run_id, relative in rows:
            if last is not None and len(found) >= last:
                break
            record = self._load(str(run_id), self.path / str(relative))
            if record is not None:
                found.append(record)
        return found[::-1]

    def _rows(self, query: str, params: tuple[str, ...]) -> list[tuple[object, ...]]:
        try:
            with self._connect(create=False) as db:
                return self._select(db, query, params)
        except sqlite3.OperationalError:
            # WAL needs its -shm file written even to read; on read-only media (a store that was
            # copied, a read-only mount) the file is read as it is: writers closed it checkpointed.
            uri = f"file:{quote(str(self.path / INDEX))}?immutable=1"
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
                return self._select(db, query, params)

    @staticmethod
    def _select(db: sqlite3.Connection, query: str, params: tuple[str, ...]) -> list[tuple[object, ...]]:
        try:
            return db.execute(query, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            return []  # made by a writer that has not created its table yet

    def _load(self, run_id: str, path: Path, *, aside: bool = True) -> RunRecord | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            # A writer replacing this run was killed between its two renames: the old copy is aside.
            kept = next((p / RECORD for p in self._asides(run_id) if (p / RECORD).is_file()), None)
            if kept is not None and aside:
                return self._load(run_id, kept, aside=False)
            skipped(self.uri, run_id, f"it is in the index but {path} is missing")
            return None
        except OSError as exc:
            skipped(self.uri, run_id, f"{path} cannot be read: {exc.strerror or exc}")
            return None
        try:
            return unpack(data)
        except (OSError, EOFError, ValueError) as exc:  # gzip raises BadGzipFile (an OSError)
            skipped(self.uri, run_id, f"{path} is not a readable record: {exc}")
            return None

    # -- the directory and its index ---------------------------------------------------------
    def _check_is_store(self) -> None:
        """A file, or a directory that holds other things, is not taken over as a store."""
        if self.path.exists() and not self.path.is_dir():
            raise HistoryError(
                f"history store {self.named} is a file, not a directory",
                hint="point --store ([history] store) at a directory, or move the file away",
            )
        if self.path.is_dir() and not (self.path / INDEX).exists():
            try:
                foreign = next(iter(self.path.iterdir()), None)
            except OSError as exc:
                raise self._unwritable(exc.strerror or str(exc), self.path, "read") from exc
            if foreign is not None:
                raise HistoryError(
                    f"history store {self.named} is not a history store: it has no "
                    f"{INDEX} and is not empty (it holds {foreign.name})",
                    hint="pass a new or empty directory, or the directory a store was made in",
                )

    @contextlib.contextmanager
    def _connect(self, create: bool = True) -> Iterator[sqlite3.Connection]:
        # Autocommit (isolation_level None): each statement is its own short transaction.
        db = sqlite3.connect(self.path / INDEX, timeout=BUSY_SECONDS, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
            if create:
                self._prepare(db)
            yield db
        finally:
            db.close()

    @staticmethod
    def _prepare(db: sqlite3.Connection) -> None:
        """WAL mode (kept in the file: set once) and the table. Switching the journal mode can
        answer "locked" without waiting on the busy timeout, so that one is retried here."""
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    db.execute("PRAGMA journal_mode = WAL")
                db.executescript(SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _unwritable(self, reason: str, where: Path | str, verb: str = "written") -> HistoryError:
        return HistoryError(
            f"history store {self.uri} cannot be {verb}: {reason.lower()} ({where})", hint=WRITE_HINT
        )


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # deleted meanwhile by the writer that set it aside
        return 0.0
