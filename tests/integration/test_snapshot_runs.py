"""`integration-run --snapshot` as a user runs it: the first cold run saves the migrated data, the
next starts from it (no migrations), a new migration file is applied on top and the snapshot
refreshed, and `snapshot save`/`load` carry it to another machine's store (actions/cache)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli

pytestmark = pytest.mark.integration


def cold_run(project: Path, *args: str, env: dict[str, str] | None = None) -> tuple[dict, str]:  # type: ignore[type-arg]
    result = run_cli(
        ["integration-run", "--snapshot", "--json", *args, "--", "-k", "orders"], project, env=env
    )
    data = result.json()
    assert data["exit_code"] == 0, result.output
    assert_no_leaks(data["project"])
    return data, result.output


def phase(data: dict, name: str) -> str:  # type: ignore[type-arg]
    return str(next(p for p in data["phases"] if p["name"] == name)["detail"])


def test_a_cold_run_starts_from_the_snapshot_and_new_migrations_go_on_top(example_project: Path) -> None:
    first, _ = cold_run(example_project)
    key = first["snapshot"]["key"]
    assert first["snapshot"] == {"key": key, "hit": False, "saved": True}
    assert phase(first, "migrate") == "2 applied, 0 already applied"

    second, output = cold_run(example_project)
    assert second["snapshot"] == {"key": key, "hit": True, "saved": False}
    assert phase(second, "migrate") == "0 applied, 2 already applied"  # the tracking table came with it
    assert "data loaded from snapshot" in output

    (example_project / "migrations" / "003_add_note.sql").write_text(
        "ALTER TABLE orders ADD COLUMN note text;\n"
    )
    third, _ = cold_run(example_project)
    assert third["snapshot"]["hit"] is True and third["snapshot"]["saved"] is True
    assert third["snapshot"]["key"] != key  # the migrations part of the key changed
    assert phase(third, "migrate") == "1 applied, 2 already applied"
    fourth, _ = cold_run(example_project)
    assert phase(fourth, "migrate") == "0 applied, 3 already applied"


def test_snapshot_key_save_and_load_carry_it_to_another_store(example_project: Path, tmp_path: Path) -> None:
    cold_run(example_project)
    key = run_cli(["snapshot", "key"], example_project).stdout.strip()
    prefix = run_cli(["snapshot", "key", "--restore-prefix"], example_project).stdout.strip()
    assert key.startswith("citk-stack-") and key.startswith(prefix) and key != prefix
    cache = tmp_path / "cache"
    saved = run_cli(["snapshot", "save", str(cache)], example_project)
    assert saved.returncode == 0 and (cache / "ci-toolkit-snapshot.tar").is_file(), saved.output

    other = {"CI_TOOLKIT_STATE_DIR": str(tmp_path / "other-machine")}  # a fresh runner's empty store
    loaded = run_cli(["snapshot", "load", str(cache)], example_project, env=other)
    assert loaded.returncode == 0 and "loaded" in loaded.stdout, loaded.output
    data, _ = cold_run(example_project, env=other)
    assert data["snapshot"]["hit"] is True and phase(data, "migrate") == "0 applied, 2 already applied"

    listed = json.loads(run_cli(["snapshot", "list", "--json"], example_project, env=other).stdout)[
        "snapshots"
    ]
    assert len(listed) == 1
    pruned = run_cli(["snapshot", "prune", "--keep", "0"], example_project, env=other)
    assert pruned.returncode == 0 and "1 removed" in pruned.stdout


def test_an_empty_cache_dir_is_a_miss_not_an_error(example_project: Path, tmp_path: Path) -> None:
    result = run_cli(["snapshot", "load", str(tmp_path / "nothing")], example_project)
    assert result.returncode == 0 and "cache miss" in result.stdout
