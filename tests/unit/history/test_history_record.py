"""A run's end with `[history]` (pipeline/history_record.py), through the sequence's own
`conclude`: run.json carries the run's id, whatever goes wrong while recording is a warning and
never the run's result, the job summary's chart reads the run's own branch. No Docker: a run
that ran no step still ends as every run does."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_toolkit.history.model import RunRecord
from ci_toolkit.history.store import open_store
from ci_toolkit.output.console import Reporter
from ci_toolkit.pipeline import context, history_record, sequence
from ci_toolkit.pipeline.context import RunContext, RunOptions
from tests.conftest import EXAMPLE_CONFIG, load_config_text, run_cli
from tests.mounts import tmpfs


def planned(root: Path, store: str | None, **options: object) -> tuple[RunContext, io.StringIO]:
    """A run of the example's config in `root`, its reporter writing into the returned buffer."""
    text = EXAMPLE_CONFIG + (f'\n[history]\nstore = "{store}"\n' if store is not None else "")
    said = io.StringIO()
    ctx = context.plan(load_config_text(root, text), RunOptions(**options), Reporter(said))  # type: ignore[arg-type]
    return ctx, said


def run_json(ctx: RunContext) -> dict:  # type: ignore[type-arg]
    return json.loads((ctx.run_dir / "run.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def outside_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the run is: not this repository (its branch would leak into the records)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("GITHUB_SHA", "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "GITHUB_RUN_ID"):
        monkeypatch.delenv(name, raising=False)


def test_an_invalid_s3_endpoint_is_a_warning_and_the_run_keeps_its_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "minio:9000")  # no scheme: botocore raises ValueError
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    ctx, said = planned(tmp_path, "s3://ci-history/team")
    result = sequence.Sequence(ctx).conclude(None, bundle=False)
    assert (result.status, result.exit_code) == ("passed", 0)
    warning = said.getvalue()
    assert "warning: history: this run was not recorded in s3://ci-history/team" in warning
    assert "S3 endpoint AWS_ENDPOINT_URL=minio:9000 is not a valid endpoint URL" in warning
    assert "record it later with: ci-toolkit history record" in warning
    assert "http://minio:9000" in warning  # the hint: the URL it should have been
    written = run_json(ctx)
    assert written["status"] == "passed" and "minio:9000" in written["history"]["error"]


def test_a_store_under_no_users_home_is_a_warning_naming_it(tmp_path: Path) -> None:
    ctx, said = planned(tmp_path, "~no-such-user-ci/history")
    result = sequence.Sequence(ctx).conclude(None, bundle=False)
    assert result.exit_code == 0
    assert (
        "history store ~no-such-user-ci/history: ~no-such-user-ci names no home directory" in said.getvalue()
    )


def test_bad_utf8_in_the_plugins_records_still_records_the_run(tmp_path: Path) -> None:
    ctx, said = planned(tmp_path, "ci-history")
    ctx.run_dir.mkdir(parents=True)
    (ctx.run_dir / "progress.tsv").write_bytes(b"passed\tt.py::test_ok\nfailed\tt.py::test_\xff\xfe[x]\n")
    (ctx.run_dir / "phases.tsv").write_bytes(
        b"call\t0.25\tt.py::test_ok\ncall\t0.5\tt.py::test_\xff\xfe[x]\n"
    )
    result = sequence.Sequence(ctx).conclude(None, bundle=False)
    assert result.exit_code == 0 and "warning" not in said.getvalue(), said.getvalue()
    (kept,) = open_store("ci-history", tmp_path).runs()
    assert {t.id: (t.outcome, t.seconds) for t in kept.tests} == {
        "t.py::test_ok": ("passed", 0.25),
        "t.py::test_\ufffd\ufffd[x]": ("failed", 0.5),
    }


def test_an_unforeseen_error_while_recording_is_a_warning_with_its_traceback(tmp_path: Path) -> None:
    # No layer checks a store path for a NUL byte: the OS call raises ValueError, a bug of ours.
    ctx, said = planned(tmp_path, "ci\\u0000history")
    result = sequence.Sequence(ctx).conclude(None, bundle=False)
    assert (result.status, result.exit_code) == ("passed", 0)
    log = ctx.run_dir / "history" / "traceback.log"
    warning = said.getvalue()
    assert "internal error (a bug in ci-toolkit): ValueError('embedded null byte')" in warning
    assert f"the traceback is in {log}" in warning and "record it later with:" in warning
    assert "Traceback (most recent call last)" in log.read_text()
    assert not (ctx.run_dir / "traceback.log").exists()  # the run's own crash log stays the run's
    assert run_json(ctx)["status"] == "passed"


def test_run_json_carries_the_run_id_so_copies_of_the_run_record_as_one(tmp_path: Path) -> None:
    ctx, _ = planned(tmp_path, None)  # no store: the id is written all the same
    sequence.Sequence(ctx).conclude(None, bundle=False)
    run_id = run_json(ctx)["history"]["run_id"]
    assert re.fullmatch(rf"\d{{8}}T\d{{6}}\.\d{{3}}Z-{ctx.project}-[0-9a-f]{{8}}", run_id), run_id
    copy = tmp_path / "downloaded" / ctx.project
    copy.parent.mkdir()
    subprocess.run(["cp", "-r", str(ctx.run_dir), str(copy)], check=True)  # a new mtime
    os.utime(copy / "run.json", (1_800_000_000, 1_800_000_000))
    for where in (ctx.run_dir, copy, ctx.run_dir):
        done = run_cli(["history", "record", str(where), "--store", str(tmp_path / "s"), "--json"], tmp_path)
        assert done.returncode == 0, done.output
        assert done.json()["recorded"] == run_id
    assert [r.run_id for r in open_store(str(tmp_path / "s"), tmp_path).runs()] == [run_id]


def test_the_recorded_run_json_says_where_and_keeps_the_same_id(tmp_path: Path) -> None:
    ctx, said = planned(tmp_path, "ci-history")
    result = sequence.Sequence(ctx).conclude(None, bundle=False)
    history = run_json(ctx)["history"]
    assert history["store"] == "ci-history" and result.history == history
    (kept,) = open_store("ci-history", tmp_path).runs()
    assert kept.run_id == history["run_id"] and f"history: recorded {kept.run_id}" in said.getvalue()
    assert not [p.name for p in ctx.run_dir.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "artifacts", "256k") as where:
        yield where


def fill(disk: Path, into: Path) -> None:
    """`into` takes every page of `disk` but one: room for a small run.json, and for nothing more."""
    spare = disk / "spare"
    spare.write_bytes(b"s" * 4096)
    with (into / "service.log").open("wb", buffering=0) as log:
        try:
            while True:
                log.write(b"l" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    spare.unlink()


def test_the_second_run_json_write_failing_keeps_the_first_and_the_runs_exit_code(
    tmp_path: Path, small_disk: Path
) -> None:
    # A store that refuses the run, with an error long enough (a deep path) that the run.json
    # naming it needs a page more than the first one did, on a disk that has no page more.
    deep = tmp_path.joinpath(*["d" * 200] * 12)
    deep.mkdir(parents=True)
    (deep / "store").write_text("a file, not a store\n")
    ctx, said = planned(tmp_path, str((deep / "store").relative_to(tmp_path)), artifacts_dir=small_disk)
    ctx.run_dir.mkdir(parents=True)
    fill(small_disk, ctx.run_dir)
    logged = (ctx.run_dir / "service.log").stat().st_size
    result = sequence.Sequence(ctx).conclude(None, bundle=False)
    assert (result.status, result.exit_code) == ("passed", 0), result.message
    assert (ctx.run_dir / "service.log").stat().st_size == logged  # no evidence deleted to make room
    first = run_json(ctx)
    assert first["status"] == "passed" and set(first["history"]) == {"run_id"}
    warning = said.getvalue()
    assert "is a file, not a directory" in warning
    assert f"history: {ctx.run_dir / 'run.json'} keeps its first version" in warning
    assert "no space left" in warning.lower()
    assert sorted(p.name for p in ctx.run_dir.iterdir()) == ["run.json", "service.log"]


def record(n: int, branch: str) -> RunRecord:
    return RunRecord(
        f"20261202T07{n:02d}00.000Z-p-{n}",
        1_796_195_700.0 + n * 60,
        "passed",
        0,
        {"passed": 1},
        phases={"test": 1.0 + n},
        commit=f"{n:07d}",
        branch=branch,
    )


def test_the_job_summary_chart_reads_only_the_runs_own_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, _ = planned(tmp_path, "ci-history")
    store = open_store("ci-history", tmp_path)
    for n, branch in enumerate(["main", "dev", "main", "dev", "main"]):
        store.put(record(n, branch), {})
    monkeypatch.setenv("GITHUB_REF_NAME", "dev")
    chart = history_record.trend_section(ctx)
    assert chart is not None and "### Trend over the last 2 runs" in chart
    assert '"0000001", "0000003"' in chart  # dev's commits, oldest first; none of main's
    monkeypatch.setenv("GITHUB_HEAD_REF", "main")  # a pull request from main: its own branch
    assert "over the last 3 runs" in (history_record.trend_section(ctx) or "")
