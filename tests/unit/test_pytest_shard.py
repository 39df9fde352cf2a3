"""`pytest_shard` inside real pytest processes: the split, its report, the phase record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ci_toolkit.shard import ledger

SUITE = """
import time
import pytest

@pytest.fixture(scope="module")
def slow_module():
    time.sleep(0.05)

@pytest.mark.parametrize("i", range(23))
def test_param(i):
    time.sleep(0.001 * (i % 5))

class TestGroup:
    def test_one(self, slow_module):
        pass

    def test_two(self, slow_module):
        pass

def test_other_one():
    pass
"""


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_gen.py").write_text(SUITE)
    (tmp_path / "tests" / "test_more.py").write_text("def test_a(): pass\ndef test_b(): pass\n")
    return tmp_path


def _pytest(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("CI_TOOLKIT_", "PYTEST_"))} | env
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "ci_toolkit.pytest_shard",
        "-p",
        "no:cacheprovider",
        "-q",
        *args,
    ]
    return subprocess.run(cmd, cwd=root, env=full, capture_output=True, text=True, timeout=120)


def _shard(root: Path, label: str, *args: str) -> tuple[list[str], dict[str, object]]:
    tag = label.replace("/", "-")
    phases = root / f"phases-{tag}.tsv"
    report = root / f"report-{tag}.json"
    result = _pytest(
        root,
        *args,
        CI_TOOLKIT_SHARD=label,
        CI_TOOLKIT_SHARD_REPORT=str(report),
        CI_TOOLKIT_PHASES=str(phases),
    )
    assert result.returncode in (0, 5), result.stdout + result.stderr
    ran = sorted({line.split("\t")[2] for line in phases.read_text().splitlines()}) if phases.exists() else []
    return ran, json.loads(report.read_text())


@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["one-process", "xdist"])
def test_the_shards_together_run_the_whole_collection_once(suite: Path, xdist: tuple[str, ...]) -> None:
    collected = suite / "collected.txt"
    whole = _pytest(suite, "--collect-only", CI_TOOLKIT_COLLECTED=str(collected))
    assert whole.returncode == 0, whole.stdout
    ids = ledger.read_collected(collected)
    assert len(ids) == 28
    runs = [_shard(suite, f"{k}/3", *xdist) for k in (1, 2, 3)]
    together = [t for ran, _ in runs for t in ran]
    assert sorted(together) == sorted(ids)  # every test once: none twice, none left out
    assert len({str(report["collection"]) for _, report in runs}) == 1
    assert [report["selected"] for _, report in runs] == [len(ran) for ran, _ in runs]
    assert all(report["tests"] == 28 for _, report in runs)


def test_deselection_by_k_happens_before_the_split(suite: Path) -> None:
    runs = [_shard(suite, f"{k}/2", "-k", "test_more") for k in (1, 2)]
    assert sorted(t for ran, _ in runs for t in ran) == [
        "tests/test_more.py::test_a",
        "tests/test_more.py::test_b",
    ]
    assert [report["tests"] for _, report in runs] == [2, 2]


def test_a_shard_without_tests_says_so_in_its_report(suite: Path) -> None:
    ran, report = _shard(suite, "8/8", "-k", "test_more or test_other")
    assert ran == [] and report["selected"] == 0 and report["tests"] == 3


def test_the_costs_decide_the_split(suite: Path) -> None:
    collected = suite / "collected.txt"
    _pytest(suite, "--collect-only", CI_TOOLKIT_COLLECTED=str(collected))
    costs = suite / "costs.json"
    table = dict.fromkeys(ledger.read_collected(collected), 1.0) | {"tests/test_more.py::test_a": 100.0}
    costs.write_text(json.dumps({"tests": table, "setup": {}}))
    phases = suite / "p.tsv"
    result = _pytest(
        suite, CI_TOOLKIT_SHARD="1/2", CI_TOOLKIT_SHARD_COSTS=str(costs), CI_TOOLKIT_PHASES=str(phases)
    )
    assert result.returncode == 0, result.stdout
    ran = {line.split("\t")[2] for line in phases.read_text().splitlines()}
    assert ran == {"tests/test_more.py::test_a"}  # the one costly test has a shard to itself
