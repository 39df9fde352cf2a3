"""The queries over recorded runs: which tests are flaky, which are slow, the trend, the ledger."""

from __future__ import annotations

import statistics

import pytest

from ci_toolkit.history import queries
from ci_toolkit.history.model import RunRecord, TestResult


def run(
    n: int,
    tests: list[TestResult],
    *,
    commit: str = "c0ffee",
    branch: str = "main",
    phases: dict[str, float] | None = None,
    coverage: float | None = 90.0,
) -> RunRecord:
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for t in tests:
        key = {"passed": "passed", "failed": "failed", "error": "errors", "skipped": "skipped"}[t.outcome]
        counts[key] += 1
    status = "passed" if not counts["failed"] and not counts["errors"] else "tests_failed"
    return RunRecord(
        run_id=f"2026120{1 + n // 100}T{n:06d}Z-p{n}",
        finished_at=1_700_000_000 + n * 60,
        status=status,
        exit_code=0 if status == "passed" else 1,
        counts=counts,
        coverage_percent=coverage,
        phases=phases or {"up": 1.0, "test": 2.0},
        tests=tuple(tests),
        commit=commit,
        branch=branch,
    )


def steady(i: int) -> TestResult:
    return TestResult("tests/test_a.py::test_steady", "passed", 0.1)


def test_a_test_failing_on_odd_runs_of_one_commit_is_the_only_flaky_one() -> None:
    runs = [
        run(
            i,
            [
                steady(i),
                TestResult(
                    "tests/test_a.py::test_flaky", "failed" if i % 2 else "passed", 0.2, message="boom"
                ),
                # broke at run 10 and stayed broken: a regression, not flaky
                TestResult("tests/test_a.py::test_broken", "failed" if i >= 10 else "passed", 0.1),
                TestResult("tests/test_a.py::test_skipped", "skipped"),
            ],
            commit="aaaa1111" if i < 10 else "bbbb2222",
        )
        for i in range(30)
    ]
    found = queries.flaky(runs)
    assert [f.id for f in found] == ["tests/test_a.py::test_flaky"]
    flaky = found[0]
    assert (flaky.runs, flaky.passed, flaky.failed) == (30, 15, 15)
    assert flaky.last_seen == runs[29].run_id  # run 29 is odd: the last failure
    assert flaky.last_commit == "bbbb2222"
    assert flaky.reasons == ("failed and passed on the same commit (aaaa1111, bbbb2222)",)


def test_flipping_across_commits_and_passing_on_rerun_are_flaky_too() -> None:
    flips = [
        run(i, [TestResult("t::flip", "passed" if i in (0, 2, 4) else "failed")], commit=f"c{i}")
        for i in range(5)
    ]
    assert queries.flaky(flips)[0].reasons == ("flipped between pass and fail 4 times",)
    reran = [run(i, [TestResult("t::rerun", "passed", reran=i == 3)], commit=f"c{i}") for i in range(5)]
    (only,) = queries.flaky(reran)
    assert only.reasons == ("passed only on a rerun in 1 run",) and only.last_seen == reran[3].run_id
    # one failure on a new commit, then fixed on the next: one flip each way is not "keeps flipping"
    fixed = [
        run(i, [TestResult("t::fixed", "failed" if i == 2 else "passed")], commit=f"c{i}") for i in range(5)
    ]
    assert queries.flaky(fixed) == []  # pass -> fail -> pass: a break and its fix


def test_flips_are_counted_per_branch_not_across_branches() -> None:
    runs = [
        run(i, [TestResult("t::x", "passed" if i % 2 == 0 else "failed")], commit=f"c{i}",
            branch="main" if i % 2 == 0 else "feature")
        for i in range(6)
    ]  # fmt: skip
    assert queries.flaky(runs) == []  # main always passes, feature always fails


def test_trend_medians_and_percentiles_over_the_runs() -> None:
    ups = [float(i) for i in range(1, 31)]  # 1 .. 30 s
    runs = [
        run(i, [steady(i), TestResult("t::f", "failed" if i < 3 else "passed")],
            phases={"up": ups[i], "test": 2.0, "snapshot": 0.0}, coverage=80.0 + i % 5)
        for i in range(30)
    ]  # fmt: skip
    trend = queries.trend(runs)
    assert trend.phase_p50["up"] == 15.0  # nearest rank: the 15th of 30
    assert trend.phase_p95["up"] == 29.0  # ceil(0.95 * 30) = 29th
    assert trend.phase_p50["test"] == 2.0
    assert trend.phase_names == ["up", "test"]  # snapshot took no time in any run
    assert trend.runs_passed == 27
    assert trend.pass_rate == pytest.approx(57 / 60)
    assert trend.coverage_median == statistics.median(80.0 + i % 5 for i in range(30)) == 82.0
    assert trend.coverage_last == 84.0
    assert [p.label for p in trend.points][:2] == ["c0ffee", "c0ffee"]
    assert trend.points[0].pass_rate == 0.5 and trend.points[-1].pass_rate == 1.0


def test_slowest_ranks_by_median_of_call_setup_and_teardown() -> None:
    runs = [
        run(i, [TestResult("t::slow", "passed", 1.0 + i, setup=0.5), TestResult("t::fast", "passed", 0.01),
                TestResult("t::skip", "skipped", 9.0)])
        for i in range(5)
    ]  # fmt: skip
    ranked = queries.slowest(runs, top=5)
    assert [s.id for s in ranked] == ["t::slow", "t::fast"]
    assert ranked[0].median == 3.5 and ranked[0].max == 5.5 and ranked[0].runs == 5


def test_durations_is_the_ledger_the_shard_planner_reads() -> None:
    runs = [run(i, [TestResult("t::a", "passed", 2.0 if i == 0 else 4.0, setup=1.0)]) for i in range(2)]
    ledger = queries.durations(runs)
    timing = ledger.tests["t::a"]
    assert (timing.call, timing.setup, timing.runs) == (3.0, 1.0, 2)  # smoothed as after each run
    assert "t::a" in ledger.to_dict()["tests"]


def test_a_record_round_trips_through_its_dict() -> None:
    record = run(3, [TestResult("t::a", "failed", 0.5, 0.1, 0.2, True, "AssertionError: x")])
    assert RunRecord.from_dict(record.to_dict()) == record


def test_a_break_fixed_on_two_branches_is_two_flips_on_each_not_four() -> None:
    # One bad commit merged into main and a release branch, then fixed on both: pass, fail, pass
    # on each branch (interleaved by time): a regression and its fix, twice, not a flaky test.
    outcomes = ["passed", "passed", "failed", "failed", "passed", "passed"]
    runs = [
        run(i, [TestResult("t::fixed", outcome)], commit=f"c{i}", branch="main" if i % 2 == 0 else "release")
        for i, outcome in enumerate(outcomes)
    ]
    assert queries.flaky(runs) == []
    still = [*runs, run(6, [TestResult("t::fixed", "failed")], commit="d0")]
    (flaky,) = queries.flaky(still)  # main: pass, fail, pass, fail: three flips on one branch
    assert flaky.flips == 3 and flaky.reasons == ("flipped between pass and fail 3 times",)


def test_a_dirty_working_tree_is_not_the_same_commit_twice() -> None:
    # Someone edited the code between the two runs: the commit was the same, the code was not.
    dirty = [
        run(i, [TestResult("t::edited", "failed" if i == 0 else "passed")], commit="c0ffee-dirty")
        for i in range(2)
    ]
    assert queries.flaky(dirty) == []
    clean = [run(i, [TestResult("t::edited", "failed" if i == 0 else "passed")]) for i in range(2)]
    assert queries.flaky(clean)[0].reasons == ("failed and passed on the same commit (c0ffee)",)
    # the flip rule still reads dirty runs: pass, fail, pass, fail is flaky however the tree was
    flips = [
        run(i, [TestResult("t::wobbly", "passed" if i % 2 == 0 else "failed")], commit="c0ffee-dirty")
        for i in range(4)
    ]
    assert queries.flaky(flips)[0].reasons == ("flipped between pass and fail 3 times",)


def sharded(n: int, url: str | None, shard: str, passed: int, failed: int, coverage: float | None,
            cell: str | None = None) -> RunRecord:  # fmt: skip
    record = run(n, [], coverage=coverage)
    counts = {"passed": passed, "failed": failed, "errors": 0, "skipped": 0}
    return RunRecord.from_dict({**record.to_dict(), "counts": counts, "run_url": url, "shard": shard,
                                "cell": cell})  # fmt: skip


def test_the_newest_workflow_run_is_all_its_shards_and_cells_not_one_record() -> None:
    url = "https://github.com/acme/shop/actions/runs/"
    runs = [
        sharded(0, url + "1", "1/2", 10, 0, 70.0),
        sharded(1, url + "2", "1/2", 4, 1, 60.0, "pg16"),
        sharded(2, url + "2", "2/2", 5, 0, 65.0, "pg16"),
        sharded(3, url + "2", "1/2", 6, 0, 80.0, "pg17"),
        sharded(4, url + "2", "2/2", 3, 2, 75.0, "pg17"),  # failed: the job was re-run ...
        sharded(5, url + "2", "2/2", 5, 0, 78.0, "pg17"),  # ... and passed: this attempt counts
    ]
    assert [r.run_id for r in queries.newest_run(runs)] == [runs[i].run_id for i in (1, 2, 3, 5)]
    assert queries.counts_of(runs) == {"passed": 20, "failed": 1, "errors": 0, "skipped": 0}
    assert queries.coverage_of(runs) == 65.0  # pg16's best shard (65) is under pg17's (80)
    local = [*runs, sharded(6, None, "1/1", 2, 0, 90.0)]  # a run outside Actions: itself alone
    assert queries.counts_of(local)["passed"] == 2 and queries.coverage_of(local) == 90.0
    assert queries.newest_run([]) == [] and queries.counts_of([]) == {} and queries.coverage_of([]) is None
