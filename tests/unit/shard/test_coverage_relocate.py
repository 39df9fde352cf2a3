"""Shards that ran in other directories (act jobs, self-hosted runners) still merge coverage."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ci_toolkit.shard import coverage


def _measure(project: Path, data: Path) -> None:
    env = {**os.environ, "COVERAGE_FILE": str(data)}
    subprocess.run(
        [sys.executable, "-m", "coverage", "run", "--source=pkg", "-m", "pkg.main"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )


def test_data_measured_elsewhere_is_combined_against_this_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = tmp_path / "runner-a" / "repo"
    (runner / "pkg").mkdir(parents=True)
    (runner / "pkg" / "__init__.py").write_text("")
    (runner / "pkg" / "main.py").write_text(
        "def used():\n    return 1\n\n\ndef unused():\n    return 2\n\n\nused()\n"
    )
    _measure(runner, tmp_path / "shard.data")
    here = tmp_path / "merge-job" / "repo"
    shutil.copytree(runner, here)
    shutil.rmtree(tmp_path / "runner-a")  # the shard's runner is gone: only this checkout has the sources
    monkeypatch.chdir(here)
    into = tmp_path / "merged"
    into.mkdir()
    merged = coverage.combine([(tmp_path / "shard.data", str(runner))], into, fail_under=90)
    assert merged.percent == pytest.approx(80.0)  # 4 of 5 statements ran
    assert merged.below and merged.html.is_file()
    assert (tmp_path / "shard.data").is_file()  # the shard's own data is left as it was


def test_run_from_a_subdirectory_the_paths_go_to_the_config_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = tmp_path / "runner-a" / "repo"
    (runner / "pkg").mkdir(parents=True)
    (runner / "pkg" / "__init__.py").write_text("")
    (runner / "pkg" / "main.py").write_text("def used():\n    return 1\n\n\nused()\n")
    _measure(runner, tmp_path / "shard.data")
    here = tmp_path / "merge-job" / "repo"
    shutil.copytree(runner, here)
    shutil.rmtree(tmp_path / "runner-a")
    (here / "docs").mkdir()
    monkeypatch.chdir(here / "docs")  # `report merge` typed in a subdirectory of the checkout
    merged = coverage.combine([(tmp_path / "shard.data", str(runner))], Path("out"), None, here=here)
    assert merged.percent == pytest.approx(100.0) and merged.xml.is_file()
