"""The snapshot store: a snapshot is used only when every checksum verifies, a damaged or half
written one is skipped with a warning (never loaded), LRU prune, and export/import for a cache."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ci_toolkit.errors import InfrastructureError
from ci_toolkit.reuse import snapshot
from ci_toolkit.reuse.paths import STATE_DIR_VARIABLE, snapshots_dir

REPO = Path(__file__).resolve().parents[3]
MIGRATIONS = (("001_create.sql", "a" * 64), ("002_index.sql", "b" * 64))


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(tmp_path / "state"))
    return tmp_path / "state"


def data_dir_tar(payload: bytes = b"rows" * 5000) -> bytes:
    """An uncompressed tar of a `data/` directory, as the engine streams one."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        top = tarfile.TarInfo("data")
        top.type, top.mode, top.uid, top.gid = tarfile.DIRTYPE, 0o700, 100, 102
        tar.addfile(top)
        for name, content in (("data/PG_VERSION", b"15\n"), ("data/base/1/16384", payload)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid, info.gid = len(content), 0o600, 100, 102
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def make(key: str, data: bytes | None = None) -> snapshot.Manifest:
    with snapshot.writing(key) as entry:
        entry.add_archive("db", "/var/lib/postgresql/data", chunks(data or data_dir_tar()))
        return entry.commit(identity={"compose": "c1", "images": ("postgres:15",)}, migrations=MIGRATIONS)


def leftovers() -> list[str]:
    return sorted(os.listdir(snapshots_dir())) if snapshots_dir().is_dir() else []


def test_a_snapshot_is_found_only_verified_and_is_marked_used() -> None:
    tar = data_dir_tar()
    made = make("k1", tar)
    assert made.migrations == MIGRATIONS and made.identity == {"compose": "c1", "images": ["postgres:15"]}
    info = made.archives["db"]
    assert (info.file, info.data_path, info.raw_bytes) == ("db.tar.gz", "/var/lib/postgresql/data", len(tar))
    path = made.archive_path("db")
    assert gzip.decompress(path.read_bytes()) == tar and info.bytes == path.stat().st_size
    assert oct(path.stat().st_mode & 0o777) == "0o600"  # a database's files are nobody else's

    time.sleep(0.01)
    warnings: list[str] = []
    found = snapshot.find("k1", warn=warnings.append)
    assert warnings == [] and found is not None
    assert found.content() == made.content() and found.last_used > made.last_used
    assert [m.key for m in snapshot.listing()] == ["k1"] and leftovers() == ["k1"]
    assert snapshot.find("other", warn=warnings.append) is None and warnings == []


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


DAMAGES: dict[str, tuple[Callable[[Path], object], str]] = {
    "bit rot in the archive": (lambda d: flip_a_byte(d / "db.tar.gz"), "does not match its sha256 checksum"),
    "truncated archive": (
        lambda d: os.truncate(d / "db.tar.gz", (d / "db.tar.gz").stat().st_size // 2),
        "bytes, not",
    ),
    "missing archive": (lambda d: (d / "db.tar.gz").unlink(), "the archive of db (db.tar.gz) is missing"),
    "edited manifest": (
        lambda d: (d / "manifest.json").write_text(
            (d / "manifest.json").read_text().replace("002_index.sql", "002_other.sql")
        ),
        "manifest.json does not match its checksum",
    ),
    "garbage manifest": (lambda d: (d / "manifest.json").write_text("{"), "not a snapshot manifest"),
    "no manifest": (lambda d: (d / "manifest.json").unlink(), "manifest.json is missing"),
}


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_snapshot_is_skipped_with_a_warning_and_removed(damage: str) -> None:
    make("k1")
    change, why = DAMAGES[damage]
    change(snapshots_dir() / "k1")
    warnings: list[str] = []
    assert snapshot.find("k1", warn=warnings.append) is None
    assert len(warnings) == 1 and why in warnings[0], warnings
    assert warnings[0].startswith("snapshot k1: ") and warnings[0].endswith("; skipped, starting fresh")
    assert leftovers() == []  # removed: the next run does not warn about it again
    assert snapshot.find("k1", warn=warnings.append) is None and len(warnings) == 1


def test_a_failed_capture_leaves_nothing_behind() -> None:
    def engine_gone() -> Iterator[bytes]:
        yield data_dir_tar()[:4096]
        raise ConnectionError("engine went away")

    with pytest.raises(ConnectionError), snapshot.writing("k1") as entry:
        entry.add_archive("db", "/var/lib/postgresql/data", engine_gone())
    with (
        pytest.raises(InfrastructureError, match=r"ended early \(4096 bytes"),
        snapshot.writing("k1") as entry,
    ):
        entry.add_archive("db", "/var/lib/postgresql/data", chunks(data_dir_tar()[:4096]))
    assert leftovers() == [] and snapshot.find("k1", warn=pytest.fail) is None


def test_a_killed_capture_never_looks_like_a_snapshot(state: Path) -> None:
    script = (
        "import time\n"
        "from ci_toolkit.reuse import snapshot\n"
        "def stream():\n"
        "    yield b'x' * 65536\n"
        "    print('writing', flush=True)\n"
        "    time.sleep(60)\n"
        "with snapshot.writing('k1') as entry:\n"
        "    entry.add_archive('db', '/var/lib/postgresql/data', stream())\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**os.environ, STATE_DIR_VARIABLE: str(state)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline() == "writing\n"
    child.kill()
    child.wait()
    (work,) = leftovers()
    assert work.startswith(".tmp-k1-")  # its half-written archive, hidden
    assert snapshot.find("k1", warn=pytest.fail) is None and snapshot.listing() == []
    assert snapshot.prune(0) == [] and leftovers() == [work]  # might still be a live capture
    old = time.time() - snapshot.STALE_WORK - 60
    os.utime(snapshots_dir() / work, (old, old))
    assert snapshot.prune(0) == [] and leftovers() == []


def test_a_full_disk_is_a_clean_error_and_keeps_nothing(state: Path) -> None:
    state.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(state)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        with pytest.raises(InfrastructureError) as info, snapshot.writing("k1") as entry:
            entry.add_archive("db", "/var/lib/postgresql/data", chunks(data_dir_tar(os.urandom(3 << 20))))
        message = str(info.value)
        assert "No space left on device" in message and "service db" in message
        assert str(snapshots_dir()) in message and "nothing was kept" in message
        assert leftovers() == [] and snapshot.listing() == []
    finally:
        subprocess.run(["umount", str(state)], check=True)


def test_prune_removes_the_least_recently_used_first() -> None:
    now = time.time()
    for age, key in ((300, "a"), (200, "b"), (100, "c")):
        make(key)
        os.utime(snapshots_dir() / key / "manifest.json", (now - age, now - age))
    assert snapshot.find("a", warn=pytest.fail) is not None  # used now: the most recent
    assert [m.key for m in snapshot.listing()] == ["a", "c", "b"]
    assert snapshot.prune(1) == ["b", "c"]
    assert leftovers() == ["a"]
    assert snapshot.prune(1) == [] and snapshot.prune(0) == ["a"] and leftovers() == []


def test_a_new_capture_of_a_key_replaces_the_old_one_whole() -> None:
    make("k1", data_dir_tar(b"old" * 1000))
    second = make("k1", data_dir_tar(b"new" * 1000))
    found = snapshot.find("k1", warn=pytest.fail)
    assert found is not None and found.archives == second.archives
    assert b"new" * 1000 in gzip.decompress(found.archive_path("db").read_bytes())
    assert leftovers() == ["k1"]  # no trash, no work directory


def test_services_captured_one_at_a_time_share_one_manifest() -> None:
    def capture(service: str, migrations: tuple[tuple[str, str], ...]) -> snapshot.Manifest:
        with snapshot.writing("k1") as entry:
            entry.add_archive(service, "/var/lib/postgresql/data", chunks(data_dir_tar(service.encode())))
            return entry.commit(identity={"compose": "c1"}, migrations=migrations)

    capture("db", MIGRATIONS)
    both = capture("audit-db", MIGRATIONS)
    assert sorted(both.archives) == ["audit-db", "db"]
    found = snapshot.find("k1", warn=pytest.fail)
    assert found is not None and found.archives == both.archives
    # After a new migration the other service's archive predates it: not carried over.
    newer = capture("db", (*MIGRATIONS, ("003_more.sql", "c" * 64)))
    assert sorted(newer.archives) == ["db"] and leftovers() == ["k1"]


def test_an_archive_changed_after_find_is_refused_before_use() -> None:
    found = make("k1")
    flip_a_byte(found.archive_path("db"))
    with pytest.raises(InfrastructureError, match="changed since it was verified"):
        snapshot.verified_archive(found, "db")
    with pytest.raises(ValueError, match="plain name"):
        snapshot.find("../elsewhere", warn=pytest.fail)


def test_export_then_import_elsewhere_gives_the_same_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = make("k1")
    exported = snapshot.export("k1", tmp_path / "cache")
    assert exported == tmp_path / "cache" / snapshot.EXPORT_NAME and os.listdir(exported.parent) == [
        snapshot.EXPORT_NAME
    ]
    original = made.archive_path("db").read_bytes()

    monkeypatch.setenv(STATE_DIR_VARIABLE, str(tmp_path / "other-machine"))
    imported = snapshot.import_(tmp_path / "cache", warn=pytest.fail)
    assert imported is not None and imported.content() == made.content()
    found = snapshot.find("k1", warn=pytest.fail)
    assert found is not None and found.archive_path("db").read_bytes() == original
    assert leftovers() == ["k1"]
    assert snapshot.import_(tmp_path / "empty", warn=pytest.fail) is None  # a cache miss says nothing


@pytest.mark.parametrize("damage", ["truncated", "bit rot"])
def test_a_damaged_export_is_skipped_with_a_warning(tmp_path: Path, damage: str) -> None:
    make("k1", data_dir_tar(os.urandom(200_000)))  # the archive is most of the file, not tar padding
    exported = snapshot.export("k1", tmp_path / "cache")
    snapshot.prune(0)
    if damage == "truncated":
        os.truncate(exported, exported.stat().st_size // 2)
    else:
        flip_a_byte(exported)
    warnings: list[str] = []
    assert snapshot.import_(tmp_path / "cache", warn=warnings.append) is None
    assert len(warnings) == 1 and warnings[0].startswith(f"snapshot in {exported}: ")
    assert warnings[0].endswith("; skipped, starting fresh")
    assert leftovers() == [] and snapshot.find("k1", warn=pytest.fail) is None


def test_exporting_a_damaged_snapshot_fails_and_names_it(tmp_path: Path) -> None:
    flip_a_byte(make("k1").archive_path("db"))
    with pytest.raises(InfrastructureError, match=r"snapshot k1 cannot be exported: .*sha256"):
        snapshot.export("k1", tmp_path / "cache")
    assert not (tmp_path / "cache" / snapshot.EXPORT_NAME).exists()
