"""The directory store: runs kept whole (files renamed into place, then indexed in SQLite), read
newest-N and by branch, replaced by run id, written by several processes at once through the
CLI, and the stores it refuses or cannot write (a file, a foreign directory, read-only, full)."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_toolkit.errors import HistoryError, UsageError
from ci_toolkit.history.local import LocalStore
from ci_toolkit.history.model import RunRecord, TestResult
from ci_toolkit.history.store import open_store
from tests.conftest import run_cli
from tests.mounts import tmpfs

CLI = Path(sys.executable).parent / "ci-toolkit"  # the venv's console script, as a user runs it


def record(n: int, *, branch: str = "main", status: str = "passed", tests: int = 3) -> RunRecord:
    return RunRecord(
        run_id=f"20261202T07{n:02d}03.123Z-proj-{n}",
        finished_at=1_796_195_703.123 + n * 60,
        status=status,
        exit_code=0 if status == "passed" else 1,
        counts={"passed": tests, "failed": 0, "errors": 0, "skipped": 0},
        coverage_percent=91.5,
        phases={"validate": 0.4, "up": 1.25, "test": 2.5},
        tests=tuple(
            TestResult(f"tests/test_a.py::test_{i}", "passed", 0.01 * i, 0.002) for i in range(tests)
        ),
        commit="c" * 40,
        branch=branch,
        cell="postgres:17 / smoke",
        shard="1/2",
        project=f"proj-{n}",
    )


def files(n: int) -> dict[str, bytes]:
    return {"run.json": json.dumps({"status": "passed", "n": n}).encode(), "junit.xml": b"<testsuites/>"}


def run_dir(parent: Path, project: str) -> Path:
    """An artifacts dir as a finished run leaves it (the parts `history record` reads)."""
    path = parent / project
    path.mkdir(parents=True)
    result = {
        "status": "passed",
        "exit_code": 0,
        "project": project,
        "phases": [
            {"name": "up", "status": "ok", "seconds": 1.0},
            {"name": "test", "status": "ok", "seconds": 2.0},
        ],
        "tests": {
            "passed": 2,
            "failed": 0,
            "errors": 0,
            "skipped": 0,
            "xfailed": 0,
            "xpassed": 0,
            "rerun": 0,
        },
        "failed_tests": [],
        "flaky_tests": [],
        "coverage_percent": 88.0,
    }
    (path / "run.json").write_text(json.dumps(result))
    (path / "progress.tsv").write_text("passed\tt.py::test_a\npassed\tt.py::test_b\n")
    return path


def test_put_then_runs_gives_the_record_back_and_keeps_the_files_compressed(tmp_path: Path) -> None:
    store = open_store("history", tmp_path)
    assert isinstance(store, LocalStore) and store.path == tmp_path / "history"  # relative to root
    kept = record(1)
    store.put(kept, files(1))
    (back,) = store.runs()
    assert back == kept
    run = tmp_path / "history" / "runs" / kept.run_id
    assert sorted(p.name for p in run.iterdir()) == ["junit.xml.gz", "record.json.gz", "run.json.gz"]
    assert gzip.decompress((run / "run.json.gz").read_bytes()) == files(1)["run.json"]
    assert not [p for p in (tmp_path / "history" / "runs").iterdir() if p.name.startswith(".")]
    with sqlite3.connect(tmp_path / "history" / "index.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        row = db.execute('SELECT run_id, branch, "commit", cell, status, path FROM runs').fetchone()
    assert row == (
        kept.run_id,
        "main",
        "c" * 40,
        "postgres:17 / smoke",
        "passed",
        f"runs/{kept.run_id}/record.json.gz",
    )


def test_runs_are_oldest_first_and_last_and_branch_pick_the_newest(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s"), tmp_path)
    order = [3, 1, 5, 2, 4, 7, 6]  # written out of order: the run id (its time) orders them
    for n in order:
        store.put(record(n, branch="dev" if n % 2 == 0 else "main"), {})
    assert [r.project for r in store.runs()] == [f"proj-{n}" for n in sorted(order)]
    assert [r.project for r in store.runs(last=2)] == ["proj-6", "proj-7"]
    assert [r.project for r in store.runs(branch="dev")] == ["proj-2", "proj-4", "proj-6"]
    assert [r.project for r in store.runs(last=2, branch="main")] == ["proj-5", "proj-7"]
    assert store.runs(branch="nope") == []


def test_the_same_run_id_again_replaces_the_run_whole(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s"), tmp_path)
    store.put(record(1), {**files(1), "coverage.xml": b"<coverage/>"})
    store.put(record(1, status="tests_failed", tests=5), {"run.json": b"{}"})
    (only,) = store.runs()
    assert only.status == "tests_failed" and len(only.tests) == 5
    run = tmp_path / "s" / "runs" / only.run_id
    assert sorted(p.name for p in run.iterdir()) == ["record.json.gz", "run.json.gz"]  # nothing left over
    assert not [p for p in run.parent.iterdir() if p.name.startswith(".")]


def test_a_store_that_does_not_exist_has_no_runs_and_is_not_made_by_reading(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "later"), tmp_path)
    assert store.runs() == [] and not (tmp_path / "later").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    open_store(str(empty), tmp_path).put(record(1), {})  # an empty directory becomes a store
    assert len(open_store(str(empty), tmp_path).runs()) == 1


def test_a_file_or_a_foreign_directory_is_no_store(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(HistoryError, match="is a file, not a directory"):
        open_store("a-file", tmp_path).put(record(1), {})
    with pytest.raises(HistoryError, match="is a file, not a directory"):
        open_store("a-file", tmp_path).runs()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print()")
    with pytest.raises(HistoryError, match=r"is not a history store: it has no index.sqlite") as raised:
        open_store("src", tmp_path).put(record(1), {})
    assert "src" in raised.value.message and raised.value.exit_code == 8
    assert sorted(p.name for p in (tmp_path / "src").iterdir()) == ["main.py"]  # left alone


def test_store_uris_that_are_no_store_are_usage_errors(tmp_path: Path) -> None:
    for uri, said in [("gs://bucket/x", "unsupported scheme"), ("s3://", "names no bucket"), ("  ", "empty")]:
        with pytest.raises(UsageError, match=said):
            open_store(uri, tmp_path)
    with pytest.raises(UsageError, match="no valid bucket name"):
        open_store("s3://Not_A_Bucket/x", tmp_path)
    s3 = open_store("s3://ci-bucket/team/history/", tmp_path)
    assert (s3.uri, getattr(s3, "bucket", None), getattr(s3, "prefix", None)) == (
        "s3://ci-bucket/team/history/",
        "ci-bucket",
        "team/history",
    )


def test_an_indexed_run_whose_files_are_gone_is_skipped_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = open_store(str(tmp_path / "s"), tmp_path)
    for n in (1, 2, 3):
        store.put(record(n), {})
    gone = record(2).run_id
    for path in (tmp_path / "s" / "runs" / gone).iterdir():
        path.unlink()
    assert [r.project for r in store.runs()] == ["proj-1", "proj-3"]
    warning = capsys.readouterr().err
    assert f"run {gone} skipped: it is in the index but" in warning and "record.json.gz is missing" in warning
    assert [r.project for r in store.runs(last=2)] == ["proj-1", "proj-3"]  # the next older one fills in

    (tmp_path / "s" / "runs" / record(3).run_id / "record.json.gz").write_bytes(b"not gzip")
    trend = run_cli(["history", "trend", "--json", "--store", str(tmp_path / "s")], tmp_path)
    assert trend.returncode == 0, trend.output
    assert trend.json()["runs"] == 1
    assert f"run {record(3).run_id} skipped" in trend.stderr and "not a readable record" in trend.stderr


def test_a_damaged_index_is_an_error_naming_it(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "s"), tmp_path)
    store.put(record(1), {})
    (tmp_path / "s" / "index.sqlite").write_bytes(b"garbage" * 1000)
    for name in ("index.sqlite-wal", "index.sqlite-shm"):
        (tmp_path / "s" / name).unlink(missing_ok=True)
    with pytest.raises(HistoryError, match=r"its index .*index.sqlite cannot be read"):
        store.runs()


def test_eight_writer_processes_at_once_are_all_indexed(tmp_path: Path) -> None:
    store = tmp_path / "shared-store"  # made by whichever writer comes first
    dirs = [run_dir(tmp_path / "runs", f"parallel-{i}") for i in range(8)]
    writers = [
        subprocess.Popen(
            [str(CLI), "history", "record", str(d), "--store", str(store), "--json"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for d in dirs
    ]
    outputs = [w.communicate(timeout=120) for w in writers]
    for writer, (out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, out + err
    recorded = {json.loads(out)["recorded"] for out, _ in outputs}
    runs = open_store(str(store), tmp_path).runs()
    assert {r.run_id for r in runs} == recorded and len(runs) == 8
    assert sorted(str(r.project) for r in runs) == sorted(d.name for d in dirs)
    assert all(len(r.tests) == 2 for r in runs)
    with sqlite3.connect(store / "index.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM runs").fetchone() == (8,)


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Path]:
    """A small tmpfs of the test's own (read-only or full on demand); needs root, as CI runs."""
    with tmpfs(tmp_path / "mnt", "256k") as where:
        yield where


def test_a_read_only_store_is_exit_8_naming_it_and_still_readable(tmp_path: Path, mount: Path) -> None:
    run = run_dir(tmp_path / "runs", "ro-run")
    first = run_cli(["history", "record", str(run), "--store", str(mount / "store")], tmp_path)
    assert first.returncode == 0, first.output
    subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)

    again = run_cli(["history", "record", str(run), "--store", str(mount / "store")], tmp_path)
    assert again.returncode == 8, again.output
    assert f"history store {mount / 'store'} cannot be written: read-only file system" in again.stderr
    assert "hint: make the directory writable" in again.stderr
    assert "Traceback" not in again.output
    new = run_cli(["history", "record", str(run), "--store", str(mount / "new")], tmp_path)
    assert new.returncode == 8 and "read-only file system" in new.stderr, new.output

    trend = run_cli(["history", "trend", "--json", "--store", str(mount / "store")], tmp_path)
    assert trend.returncode == 0 and trend.json()["runs"] == 1, trend.output  # reading needs no write


def test_a_full_filesystem_is_exit_8_and_leaves_no_half_run(tmp_path: Path, mount: Path) -> None:
    run = run_dir(tmp_path / "runs", "full-run")
    (run / "junit.xml").write_bytes(os.urandom(512 * 1024))  # random: gzip cannot shrink it
    result = run_cli(["history", "record", str(run), "--store", str(mount / "store")], tmp_path)
    assert result.returncode == 8, result.output
    assert "cannot be written: no space left on device" in result.stderr, result.stderr
    assert open_store(str(mount / "store"), tmp_path).runs() == []
    assert not list((mount / "store" / "runs").iterdir())  # the staged files were removed


KILLED_WHILE_REPLACING = """
import os, signal, sys
from pathlib import Path

def kill_before_the_new_copy_moves_in(event, args):
    # SIGKILL: no finally, no cleanup, as an OOM kill or a cancelled job does it
    if event == "os.rename" and Path(args[0]).name.startswith(".tmp-") and not os.path.exists(args[1]):
        os.kill(os.getpid(), signal.SIGKILL)

from ci_toolkit.history.store import open_store, unpack
record = unpack(Path(sys.argv[2]).read_bytes())
sys.addaudithook(kill_before_the_new_copy_moves_in)
open_store(sys.argv[1], Path.cwd()).put(record, {"run.json": b"{}"})
"""


def test_a_writer_killed_while_replacing_a_run_leaves_the_old_one_readable(tmp_path: Path) -> None:
    from ci_toolkit.history.store import pack

    store = open_store(str(tmp_path / "s"), tmp_path)
    store.put(record(1), files(1))
    again = tmp_path / "again.json.gz"
    again.write_bytes(pack(record(1, status="tests_failed", tests=5)))
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WHILE_REPLACING, str(tmp_path / "s"), str(again)],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert killed.returncode == -9, killed.stderr  # killed between its two renames
    trend = run_cli(["history", "trend", "--json", "--store", str(tmp_path / "s")], tmp_path)
    assert trend.returncode == 0, trend.output
    assert "skipped" not in trend.stderr and trend.json()["runs"] == 1  # the old run, still there
    (old,) = store.runs()
    assert old.status == "passed" and len(old.tests) == 3

    store.put(record(1, status="tests_failed", tests=5), {"run.json": b"{}"})  # recorded again: whole
    (new,) = store.runs()
    assert new.status == "tests_failed" and len(new.tests) == 5
    assert not [p.name for p in (tmp_path / "s" / "runs").iterdir() if p.name.startswith(".old-")]
