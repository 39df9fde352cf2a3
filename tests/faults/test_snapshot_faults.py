"""A damaged snapshot is never used: a truncated archive in the store, or a truncated file that
actions/cache restored, is skipped with a warning and the run starts fresh, no leaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli

pytestmark = pytest.mark.integration


def snapshot_run(project: Path) -> tuple[dict, str]:  # type: ignore[type-arg]
    result = run_cli(["integration-run", "--snapshot", "--json", "--", "-k", "orders"], project)
    data = result.json()
    assert data["exit_code"] == 0, result.output
    assert_no_leaks(data["project"])
    return data, result.output


def migrate_detail(data: dict) -> str:  # type: ignore[type-arg]
    return str(next(p for p in data["phases"] if p["name"] == "migrate")["detail"])


def test_a_truncated_archive_in_the_store_is_skipped_and_the_run_is_fresh(
    example_project: Path, state_dir: Path
) -> None:
    snapshot_run(example_project)
    [archive] = [p for p in (state_dir / "snapshots").rglob("*.gz")]
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    data, output = snapshot_run(example_project)
    assert "skipped, starting fresh" in output and "snapshot " in output
    assert data["snapshot"]["hit"] is False and data["snapshot"]["saved"] is True  # and made again
    assert migrate_detail(data) == "2 applied, 0 already applied"  # initdb and migrations ran
    again, _ = snapshot_run(example_project)
    assert again["snapshot"]["hit"] is True


def test_a_truncated_cache_file_is_not_loaded(example_project: Path, tmp_path: Path, state_dir: Path) -> None:
    snapshot_run(example_project)
    cache = tmp_path / "cache"
    assert run_cli(["snapshot", "save", str(cache)], example_project).returncode == 0
    exported = cache / "ci-toolkit-snapshot.tar"
    exported.write_bytes(exported.read_bytes()[: exported.stat().st_size // 2])  # a cut-off download
    other = {"CI_TOOLKIT_STATE_DIR": str(tmp_path / "runner")}
    loaded = run_cli(["snapshot", "load", str(cache)], example_project, env=other)
    assert loaded.returncode == 0 and "skipped" in loaded.output, loaded.output
    assert not list((tmp_path / "runner").rglob("*.gz"))  # nothing of it entered the store
