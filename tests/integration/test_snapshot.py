"""Snapshots on the real engine: a migrated postgres:15 captured while running, loaded into a new
stack's created container, starts without initdb with its data; a damaged snapshot is never loaded.

The timing test prints capture and restore seconds and create -> accepting connections for a
restored vs a fresh (initdb) start, medians of 3 (run with -s to see them).
"""

from __future__ import annotations

import gzip
import io
import secrets
import shutil
import statistics
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.config import ServiceCheck
from ci_toolkit.errors import InfrastructureError
from ci_toolkit.reuse import snapshot
from ci_toolkit.reuse.paths import STATE_DIR_VARIABLE
from ci_toolkit.stack import pgwire
from ci_toolkit.stack.compose import Stack
from ci_toolkit.stack.engine import ContainerState, Engine, remove_leftovers
from tests.conftest import assert_no_leaks

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

COMPOSE = """\
services:
  db:
    image: postgres:15
    environment: {POSTGRES_USER: test, POSTGRES_PASSWORD: test, POSTGRES_DB: app}
    ports: ["127.0.0.1::5432"]
    volumes: [pgdata:/var/lib/postgresql/data]
volumes:
  pgdata: {}
"""
CHECK = ServiceCheck(
    name="db", kind="postgres", port=5432, timeout=60, user="test", password="test", database="app"
)
MIGRATIONS = (("001_items.sql", "1" * 64), ("002_index.sql", "2" * 64))
ROWS = 100_000  # a data dir of ~75 MB, like a small migrated schema with seed data
INITDB_SAID = ("PostgreSQL init process complete", "The files belonging to this database system")


@dataclass(frozen=True)
class Captured:
    state: Path
    manifest: snapshot.Manifest
    capture_seconds: list[float]


class Project:
    """One compose project of this module, removed with its volumes when the block ends."""

    def __init__(self, directory: Path) -> None:
        self.stack = Stack(
            f"citk-test-snapshot-{secrets.token_hex(4)}", (directory / "compose.yml",), workdir=directory
        )
        self.engine = Engine.connect()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stack.run("down", "--volumes", "--remove-orphans", "--timeout", "1", timeout=120)
        finally:
            remove_leftovers(self.engine, self.stack.project)  # whatever a failed `down` left
        assert_no_leaks(self.stack.project)

    def container(self) -> ContainerState:
        (state,) = self.engine.containers(self.stack.project)
        return state

    def wait_ready(self) -> float:
        """Poll with a real login until postgres answers; when it did (monotonic)."""
        port = self.container().ports[5432]
        deadline = time.monotonic() + 120
        while True:
            try:
                pgwire.select_one("127.0.0.1", port, "test", "test", "app", timeout=1.0)
                return time.monotonic()
            except (OSError, pgwire.PgError):
                if time.monotonic() > deadline:
                    raise AssertionError(f"postgres never answered:\n{self.logs()}") from None
                time.sleep(0.02)

    def sql(self, *statements: str) -> list[list[tuple[Any, ...]]]:
        """Each statement's rows ([] for one that returns none)."""
        import psycopg

        port = self.container().ports[5432]
        with psycopg.connect(f"postgresql://test:test@127.0.0.1:{port}/app", autocommit=True) as conn:
            return [
                (cursor.fetchall() if cursor.description else []) for cursor in map(conn.execute, statements)
            ]

    def logs(self) -> str:
        return self.engine.logs(self.container().id)


def headers(tar: tarfile.TarFile) -> list[tuple[str, int, int, int]]:
    return [(m.name, m.uid, m.gid, m.mode & 0o7777) for m in tar]  # type bits: the engine adds them


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Captured]:
    """A migrated postgres with data, captured three times (the median is reported), then removed."""
    directory = tmp_path_factory.mktemp("snapshot")
    (directory / "compose.yml").write_text(COMPOSE)
    state = directory / "state"
    with pytest.MonkeyPatch.context() as env:
        env.setenv(STATE_DIR_VARIABLE, str(state))
        with Project(directory) as source:
            source.stack.run("up", "--detach", timeout=120)
            source.wait_ready()
            source.sql(
                "CREATE TABLE items (id serial PRIMARY KEY, name text, payload text)",
                "INSERT INTO items (name, payload) SELECT 'item ' || g, md5(g::text) "
                f"FROM generate_series(1, {ROWS}) g",
                "CREATE TABLE ci_toolkit_migrations (version int PRIMARY KEY, name text, checksum text)",
                *(
                    f"INSERT INTO ci_toolkit_migrations VALUES ({i + 1}, '{n}', '{c}')"
                    for i, (n, c) in enumerate(MIGRATIONS)
                ),
            )
            seconds, manifest = [], None
            for _ in range(3):
                started = time.monotonic()
                manifest = snapshot.capture(
                    source.engine, source.stack.project, "db", CHECK, "127.0.0.1",
                    source.container().ports[5432], key=f"k-{source.stack.project}",
                    identity={"compose": "test"}, migrations=MIGRATIONS, timeout=60,
                )  # fmt: skip
                seconds.append(time.monotonic() - started)
                assert source.container().status == "running"  # unpaused: still answers
                assert source.sql("SELECT count(*) FROM items")[0] == [(ROWS,)]
        assert manifest is not None
        yield Captured(state, manifest, seconds)


def test_a_restored_postgres_starts_without_initdb_with_its_data(
    captured: Captured, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(captured.state))
    found = snapshot.find(captured.manifest.key, warn=pytest.fail)
    assert found is not None and found.migrations == MIGRATIONS
    assert found.archives["db"].data_path == "/var/lib/postgresql/data"
    (tmp_path / "compose.yml").write_text(COMPOSE)
    with Project(tmp_path) as target:
        target.stack.run("create", timeout=120)
        seconds = snapshot.restore(target.engine, target.stack.project, "db", found)
        assert seconds > 0
        # Owners and modes exactly as captured, before postgres (or its entrypoint) ever ran.
        chunks = target.engine.get_archive(target.container().id, "/var/lib/postgresql/data")
        with (
            tarfile.open(fileobj=io.BytesIO(b"".join(chunks)), mode="r:") as loaded,
            gzip.open(found.archive_path("db")) as stored,
            tarfile.open(fileobj=stored, mode="r|") as original,
        ):
            assert headers(loaded) == headers(original)
        with pytest.raises(InfrastructureError, match="already has a database in /var/lib/postgresql/data"):
            snapshot.restore(target.engine, target.stack.project, "db", found)

        target.stack.run("start", timeout=120)
        target.wait_ready()
        with pytest.raises(InfrastructureError, match=r"must have one created container .*: running\)"):
            snapshot.restore(target.engine, target.stack.project, "db", found)  # never into a live one
        assert target.sql("SELECT count(*) FROM items")[0] == [(ROWS,)]
        applied = target.sql("SELECT name, checksum FROM ci_toolkit_migrations ORDER BY version")[0]
        assert tuple(applied) == MIGRATIONS
        logs = target.logs()
        assert not any(said in logs for said in INITDB_SAID), logs
        assert "database system is ready to accept connections" in logs
        assert "automatic recovery in progress" in logs or "database system was interrupted" in logs


def test_a_truncated_archive_is_skipped_and_never_restored(
    captured: Captured, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    shutil.copytree(captured.state, state)
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(state))
    found = snapshot.find(captured.manifest.key, warn=pytest.fail)
    assert found is not None
    archive = found.archive_path("db")
    with archive.open("r+b") as handle:
        handle.truncate(archive.stat().st_size - 4096)

    (tmp_path / "compose.yml").write_text(COMPOSE)
    with Project(tmp_path) as target:
        target.stack.run("create", timeout=120)
        # A run that found the snapshot before it was damaged: refused before anything is sent.
        with pytest.raises(InfrastructureError, match="changed since it was verified"):
            snapshot.restore(target.engine, target.stack.project, "db", found)
        assert not target.engine.exists(target.container().id, "/var/lib/postgresql/data/PG_VERSION")
        warnings: list[str] = []
        assert snapshot.find(found.key, warn=warnings.append) is None
        assert warnings == [
            f"snapshot {found.key}: the archive of db is {found.archives['db'].bytes - 4096} bytes, "
            f"not {found.archives['db'].bytes} (truncated?); skipped, starting fresh"
        ]
        assert snapshot.listing() == []  # removed: never found again
        target.stack.run("start", timeout=120)  # the run starts fresh: initdb
        target.wait_ready()
        assert "PostgreSQL init process complete" in target.logs()


def test_a_capture_that_fails_while_paused_unpauses_and_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(state)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(state))
    (tmp_path / "compose.yml").write_text(COMPOSE)
    try:
        with Project(tmp_path) as source:
            source.stack.run("up", "--detach", timeout=120)
            source.wait_ready()
            with pytest.raises(InfrastructureError, match="No space left on device") as info:
                snapshot.capture(
                    source.engine, source.stack.project, "db", CHECK, "127.0.0.1",
                    source.container().ports[5432], key="full", identity={}, migrations=(), timeout=60,
                )  # fmt: skip
            assert "service db" in str(info.value) and str(state) in str(info.value)
            assert source.container().status == "running"  # unpaused although the write failed
            assert source.sql("SELECT 1")[0] == [(1,)]
            assert snapshot.listing() == [] and list((state / "snapshots").iterdir()) == []
    finally:
        subprocess.run(["umount", str(state)], check=True)


def test_restored_and_fresh_start_times(
    captured: Captured, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From `compose create` to accepting connections, restored vs fresh (initdb), medians of 3,
    printed. Not asserted: a fresh start here skips no migrations, and on a busy machine either
    can win; what must hold is that only the fresh one runs initdb."""
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(captured.state))
    (tmp_path / "compose.yml").write_text(COMPOSE)
    found = snapshot.find(captured.manifest.key, warn=pytest.fail)
    assert found is not None
    restored: list[float] = []
    fresh: list[float] = []
    restore_seconds: list[float] = []
    for _ in range(3):
        for kind in ("restored", "fresh"):
            with Project(tmp_path) as target:
                started = time.monotonic()
                target.stack.run("create", timeout=120)
                if kind == "restored":
                    restore_seconds.append(snapshot.restore(target.engine, target.stack.project, "db", found))
                target.stack.run("start", timeout=120)
                (restored if kind == "restored" else fresh).append(target.wait_ready() - started)
                said_initdb = any(s in target.logs() for s in INITDB_SAID)
                assert said_initdb == (kind == "fresh")
    info = found.archives["db"]
    print(
        f"\nsnapshot of {info.raw_bytes / 1e6:.1f} MB data dir ({info.bytes / 1e6:.1f} MB gzip-1): "
        f"capture {statistics.median(captured.capture_seconds):.2f}s, "
        f"restore {statistics.median(restore_seconds):.2f}s; create -> accepting connections: "
        f"restored {statistics.median(restored):.2f}s vs fresh {statistics.median(fresh):.2f}s "
        f"(runs: capture {_fmt(captured.capture_seconds)}, restore {_fmt(restore_seconds)}, "
        f"restored {_fmt(restored)}, fresh {_fmt(fresh)})"
    )


def _fmt(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)
