"""Counting finished tests without JUnit XML: from the plugin's record and, failing that, from
pytest's own progress output (-q characters, -v words), checked against real pytest runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ci_toolkit.results.model import TestCounts
from ci_toolkit.results.progress import OutputCounter, read_record

TESTS = """
import pytest

@pytest.mark.parametrize("n", range(7))
def test_pass(n): pass

def test_fail(): assert False

@pytest.mark.skip
def test_skip(): pass

@pytest.fixture
def broken(): raise RuntimeError("setup")

def test_error(broken): pass
"""
EXPECTED = TestCounts(passed=7, failed=1, errors=1, skipped=1)


def _pytest(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> list[str]:
    (tmp_path / "test_sample.py").write_text(TESTS)
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
    )
    return out.stdout.splitlines()


@pytest.mark.parametrize("verbosity", ["-q", "-v", "-qq"])
def test_streamed_output_counts_match_what_pytest_ran(verbosity: str, tmp_path: Path) -> None:
    counter = OutputCounter()
    for line in _pytest(tmp_path, verbosity):
        counter.feed(line)
    assert counter.counts() == EXPECTED


def test_plugin_record_counts_match_what_pytest_ran(tmp_path: Path) -> None:
    record = tmp_path / "progress.tsv"
    _pytest(tmp_path, "-q", "-p", "ci_toolkit.pytest_plugin", env={"CI_TOOLKIT_PROGRESS": str(record)})
    assert read_record(record) == EXPECTED
    assert read_record(tmp_path / "absent.tsv") is None
