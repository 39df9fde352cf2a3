"""JUnit testcase times by node id: the ledger's fallback when our plugin was not in pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ci_toolkit.shard import ledger
from ci_toolkit.shard.testcases import read_times

TESTS = """
import time
import pytest

@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    time.sleep(0.02 * n)

class TestOuter:
    def test_method(self):
        pass

    class TestInner:
        def test_deep(self):
            pass
"""


def test_junit_times_are_keyed_by_the_same_node_ids_the_plugin_records(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "test_x.py").write_text(TESTS)
    collected = tmp_path / "collected.txt"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "ci_toolkit.pytest_shard",
            "-q",
            "--junitxml=junit.xml",
            "-o",
            "junit_family=xunit1",
            "pkg",
        ],
        cwd=tmp_path,
        env={"CI_TOOLKIT_COLLECTED": str(collected), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        check=True,
    )
    times = read_times(tmp_path / "junit.xml")
    assert sorted(times) == sorted(ledger.read_collected(collected))
    assert times["pkg/test_x.py::test_param[2]"] > times["pkg/test_x.py::test_param[1]"] > 0.015
