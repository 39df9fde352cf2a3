"""The shard benchmark without its 2 minutes: the generated suite, and the whole record -> plan ->
run-every-shard path on the same suite with its sleeps scaled down 50x (real pytest processes,
real pytest-split), then the figures, targets and RESULTS.md section made from it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from benchmarks import markdown_shards, shards, shards_suite, targets
from benchmarks import results as results_doc
from benchmarks import run as bench_run
from benchmarks.shards_suite import Spec
from ci_toolkit.pytest_shard import digest, partition
from ci_toolkit.shard.ledger import Ledger, Timing

TINY = Spec(scale=0.02)


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return shards.measure(tmp_path_factory.mktemp("shards"), TINY)


def test_the_generated_suite_is_seeded_skewed_and_over_20_seconds() -> None:
    spec = Spec()
    table = shards_suite.sleeps(spec)
    assert table == shards_suite.sleeps(Spec()), "the same seed, the same suite"
    assert table != shards_suite.sleeps(Spec(seed=14))
    assert len(table) == spec.tests >= 300
    assert sum(table.values()) + len(spec.fixture_modules) * spec.fixture_seconds >= 20
    fast = [v for v in table.values() if v < 0.02]
    slow = [v for v in table.values() if v >= 0.2]
    assert len(fast) >= 0.85 * len(table) and len(fast) + len(slow) == len(table)
    assert min(slow) >= 0.2 and max(slow) <= 1.5 and sum(slow) > 0.8 * sum(table.values())
    fixture_tests = [k for k in table if k.split("::")[0] in spec.fixture_files()]
    assert fixture_tests and all(table[k] < 0.02 for k in fixture_tests)


def test_the_suite_on_disk_is_the_same_every_time(tmp_path: Path) -> None:
    shards_suite.write(tmp_path / "a", TINY)
    shards_suite.write(tmp_path / "b", TINY)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(files) == TINY.modules + 1 and "pytest.ini" in files
    for name in files:
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()
    fixture_module = (tmp_path / "a" / TINY.fixture_files()[0]).read_text()
    assert '@pytest.fixture(scope="module")' in fixture_module
    compile(fixture_module, "m.py", "exec")


def test_every_plan_runs_every_test_exactly_once(measured: dict[str, Any]) -> None:
    assert measured["problems"] == [] and measured["ok"] is True
    assert measured["tests"] == TINY.tests
    assert measured["union_equals_collection"] is True
    assert set(measured["plans"]) == set(shards.PLANS)
    for plan in measured["plans"].values():
        assert plan["union_ok"] and plan["duplicates"] == plan["missing"] == 0
        assert [s["shard"] for s in plan["shards"]] == ["1/4", "2/4", "3/4", "4/4"]
        assert sum(s["tests"] for s in plan["shards"]) == TINY.tests
        assert all(s["tests"] > 0 and s["seconds"] > 0 for s in plan["shards"])
    for key in ("balance_ours", "balance_pytest_split", "balance_pytest_split_least_duration"):
        assert measured[key] >= 1.0


def test_our_plan_is_even_by_the_ledger_and_keeps_the_fixture_modules_whole(measured: dict[str, Any]) -> None:
    ours, spread = measured["plans"]["ours"], measured["plans"]["pytest_split_least_duration"]
    assert ours["planned_balance"] <= 1.05  # what the planner believed, from the same ledger
    assert ours["fixture_setups"] == len(TINY.fixture_modules)  # each slow fixture set up once
    assert spread["fixture_setups"] > ours["fixture_setups"]  # longest-first alone scatters them


def test_the_ledger_keeps_the_fixture_setup_apart(measured: dict[str, Any]) -> None:
    fixture = measured["fixture"]
    assert len(fixture["recorded_setup_seconds"]) == len(TINY.fixture_modules)
    for recorded, counted in zip(fixture["recorded_setup_seconds"], fixture["counted_seconds"], strict=True):
        assert recorded >= fixture["setup_seconds"]
        assert counted < recorded / 10


def test_a_shard_that_ran_other_tests_than_partition_planned_is_a_problem(tmp_path: Path) -> None:
    ids = ["a.py::t1", "a.py::t2", "b.py::t3"]
    costs = {"a.py::t1": 1.0, "a.py::t2": 1.0, "b.py::t3": 1.0}
    recorded = Ledger({k: Timing(call=v) for k, v in costs.items()})
    report = {"collection": digest(ids), "tests": 3, "selected": 1}
    planned = partition(ids, costs, 3)
    runs = [shards.Process(1.0, {i: 1.0 for i in p}, {**report}) for p in planned]
    assert shards.check_ours(runs, ids, recorded, 3) == []
    swapped = [shards.Process(1.0, {planned[1][0]: 1.0}, report), *runs[1:]]
    assert "ours 1/3: ran 1 tests" in shards.check_ours(swapped, ids, recorded, 3)[0]
    other = [shards.Process(1.0, runs[0].seconds, {**report, "tests": 2}), *runs[1:]]
    assert "not the unsharded collection's" in shards.check_ours(other, ids, recorded, 3)[0]


def test_figures_targets_and_the_results_section(measured: dict[str, Any]) -> None:
    figures = results_doc.shards({"run": [measured]})
    rows = {row["key"]: row for row in targets.check_targets({"shards": figures})}
    assert rows["shards.balance_ours"]["measured"] == measured["balance_ours"]
    assert rows["shards.balance_vs_pytest_split"]["threshold"] == 1.0

    uneven = copy.deepcopy(figures)
    uneven.update(balance_ours=1.2, balance_vs_pytest_split=0.9)
    met = {row["key"]: row["met"] for row in targets.check_targets({"shards": uneven})}
    assert met["shards.balance_ours"] is False and met["shards.balance_vs_pytest_split"] is True

    r = {"shards": figures, "targets": targets.check_targets({"shards": figures})}
    text = "\n".join(markdown_shards.section(r))
    assert "## 8. Shards: 4 shards from a recorded ledger, against pytest-split" in text
    assert "| plan | shard 1 | shard 2 | shard 3 | shard 4 | slowest | mean | slowest / mean |" in text
    for label in shards.PLANS.values():
        assert f"| {label} |" in text
    assert f"{TINY.tests} tests" in text
    (line,) = markdown_shards.findings(r)
    assert line.startswith("**Shards** (") and "The union of our shards is the collection: yes" in line


def test_a_failed_or_absent_shard_run_gives_an_error_and_no_section() -> None:
    failed = results_doc.shards({"run": [{"ok": False, "problem": "RuntimeError: pytest exited 1"}]})
    assert failed["problems"] == ["RuntimeError: pytest exited 1"]
    assert markdown_shards.section({"shards": failed, "targets": []}) == []
    assert results_doc.shards({"run": []}) == {}
    assert markdown_shards.findings({"shards": {}, "targets": []}) == []
    met = {row["key"]: row["met"] for row in targets.check_targets({"shards": failed})}
    assert met["shards.balance_ours"] is None


def test_smoke_leaves_the_suite_out_unless_it_is_named() -> None:
    assert "shards" in bench_run.parse([]).suites
    assert "shards" not in bench_run.parse(["--smoke"]).suites
    assert bench_run.parse(["--smoke", "--suites", "shards"]).suites == ["shards"]
