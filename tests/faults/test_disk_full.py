"""A full filesystem under --artifacts-dir (a tiny tmpfs): the machine's fault, not a bug. The run
says "no space left" and where, exits 7 (artifacts_error), still prints its JSON result, keeps
run.json (the large evidence makes room for it) and leaves no container behind."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli
from tests.mounts import tmpfs

pytestmark = pytest.mark.usefixtures("engine_available")


@pytest.fixture
def tiny_filesystem(tmp_path: Path) -> Iterator[Path]:
    # 32 KiB: room for the small files of a run, not for coverage data, HTML and logs.
    with tmpfs(tmp_path / "artifacts", "32k") as mount:
        yield mount


def test_full_artifacts_filesystem_is_an_artifacts_error_not_a_crash(
    example_project: Path, tiny_filesystem: Path
) -> None:
    project = f"full-{secrets.token_hex(4)}"
    try:
        result = run_cli(
            ["integration-run", "--json", "--artifacts-dir", str(tiny_filesystem), "--project", project],
            example_project,
        )
    finally:
        run_cli(["stack", "down", "--project", project], example_project)
    assert result.returncode == 7, result.output
    data = result.json()  # the JSON result is on stdout even though the disk is full
    assert data["status"] == "artifacts_error" and data["exit_code"] == 7, data
    assert "no space left on device" in data["message"], data["message"]
    assert str(tiny_filesystem) in data["message"], data["message"]  # names the path
    assert "free there" in data["message"]
    assert "internal error" not in result.output, result.output
    kept = json.loads((tiny_filesystem / project / "run.json").read_text())
    assert kept["status"] == "artifacts_error"
    assert [p["name"] for p in data["phases"]][-1] == "down"  # torn down after the failure
    assert_no_leaks(project)
