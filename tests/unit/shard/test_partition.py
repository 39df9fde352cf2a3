"""The one balancing algorithm (`pytest_shard.partition`) and `--shard K/N` parsing."""

from __future__ import annotations

import random

import pytest

from ci_toolkit.pytest_shard import parse_shard, partition
from ci_toolkit.shard import plan


def _skewed_suite(n: int = 320, seed: int = 7) -> dict[str, float]:
    rng = random.Random(seed)
    costs = {}
    for i in range(n):
        roll = rng.random()
        seconds = rng.uniform(0.002, 0.02) if roll < 0.8 else rng.uniform(0.1, 0.5) if roll < 0.97 else 1.5
        costs[f"tests/test_m{i % 9}.py::test_{i}"] = seconds
    return costs


def test_every_test_is_in_exactly_one_shard_and_collection_order_is_kept() -> None:
    costs = _skewed_suite()
    ids = list(costs)
    parts = partition(ids, costs, 4)
    flat = [t for part in parts for t in part]
    assert sorted(flat) == sorted(ids) and len(flat) == len(set(flat))
    for part in parts:
        assert part == [t for t in ids if t in set(part)]


def test_a_skewed_suite_is_balanced_within_a_few_percent() -> None:
    costs = _skewed_suite()
    loads = [sum(costs[t] for t in part) for part in partition(list(costs), costs, 4)]
    ratio = plan.balance(loads)
    assert ratio is not None and ratio <= 1.05, loads


def test_without_durations_shards_split_by_count() -> None:
    ids = [f"t.py::test_{i}" for i in range(10)]
    assert [len(p) for p in partition(ids, {}, 3)] == [4, 3, 3]


def test_eight_shards_over_five_tests_leave_three_empty() -> None:
    ids = [f"t.py::test_{i}" for i in range(5)]
    sizes = [len(p) for p in partition(ids, {}, 8)]
    assert sorted(sizes) == [0, 0, 0, 1, 1, 1, 1, 1]


def test_unknown_tests_cost_the_median_of_the_known() -> None:
    costs = {"a": 1.0, "b": 1.0, "c": 1.0, "d": 9.0}
    parts = partition(["a", "b", "c", "d", "new1", "new2"], costs, 2)
    # d (9 s) alone on one shard; the rest (1 s each, new ones at the 1 s median) on the other
    assert sorted(parts, key=len) == [["d"], ["a", "b", "c", "new1", "new2"]]


def test_the_split_is_deterministic_whatever_the_order_costs_were_recorded_in() -> None:
    costs = _skewed_suite()
    shuffled = dict(sorted(costs.items(), key=lambda kv: random.Random(1).random()))
    assert partition(list(costs), costs, 5) == partition(list(costs), shuffled, 5)


def test_a_module_with_a_slow_shared_fixture_stays_on_one_shard_unless_splitting_pays() -> None:
    costs = {f"slow.py::t{i}": 0.1 for i in range(6)} | {f"fast_{i}.py::t": 0.5 for i in range(12)}
    together = partition(list(costs), costs, 2, setup={"slow.py": 2.0})
    assert (
        sum(any(t.startswith("slow.py") for t in part) for part in together) == 1
    )  # its fixture set up once
    loads = [sum(costs[t] for t in part) + 2.0 * any(t.startswith("slow") for t in part) for part in together]
    assert sorted(loads) == pytest.approx([4.1, 4.5])
    spread = partition(list(costs), costs, 2)
    assert all(any(t.startswith("slow.py") for t in part) for part in spread)  # without it: split
    heavy = {f"slow.py::t{i}": 5.0 for i in range(6)}  # 30 s of tests: worth paying the setup twice
    assert all(part for part in partition(list(heavy), heavy, 2, setup={"slow.py": 2.0}))


def test_the_estimate_counts_a_modules_setup_once_per_shard() -> None:
    from ci_toolkit.pytest_shard import estimate

    assert estimate(["m.py::a", "m.py::b", "n.py::c"], {"m.py::a": 1.0, "m.py::b": 1.0}, {"m.py": 3.0}) == 5.0


@pytest.mark.parametrize("text", ["0/4", "5/4", "2", "a/b", "2/0", ""])
def test_a_bad_shard_is_refused_with_the_form_to_use(text: str) -> None:
    with pytest.raises(ValueError, match=r"K/N with 1 <= K <= N"):
        parse_shard(text)


def test_plan_cells_are_the_product_with_the_matrix() -> None:
    cells = plan.cells(
        2, [{"PG": "15", "name": "pg 15", "slug": "pg-15"}, {"PG": "17", "name": "pg 17", "slug": "pg-17"}]
    )
    assert [(c["PG"], c["shard"], c["slug"]) for c in cells["include"]] == [
        ("15", "1/2", "pg-15-shard-1-of-2"),
        ("15", "2/2", "pg-15-shard-2-of-2"),
        ("17", "1/2", "pg-17-shard-1-of-2"),
        ("17", "2/2", "pg-17-shard-2-of-2"),
    ]
    assert plan.cells(2)["include"][1] == {"shard": "2/2", "name": "shard 2/2", "slug": "shard-2-of-2"}


def test_the_split_does_not_depend_on_the_collection_order() -> None:
    """pytest-randomly and friends reorder the collection per process: every shard must still
    compute the same split, or tests run twice and others never."""
    rng = random.Random(3)
    ids = [f"m{m}.py::t{i}" for m in range(8) for i in range(20)]
    costs = {i: rng.uniform(0.01, 1.0) for i in ids}
    setup = {f"m{m}.py": rng.uniform(0.0, 3.0) for m in range(8)}
    expected = [sorted(part) for part in partition(ids, costs, 4, setup)]
    for seed in range(50):
        shuffled = ids[:]
        random.Random(seed).shuffle(shuffled)
        parts = partition(shuffled, costs, 4, setup)
        assert [sorted(part) for part in parts] == expected
        assert all(part == [t for t in shuffled if t in set(part)] for part in parts)  # its own order kept
