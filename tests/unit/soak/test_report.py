"""Soak arithmetic: percentiles, pass rate, flaky detection, leaks and disk, the Markdown report,
durations and the [soak] table. Pure functions: no Docker, no clock."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit import config
from ci_toolkit.config.soak_settings import parse_duration
from ci_toolkit.errors import ConfigError, UsageError
from ci_toolkit.soak import report as soak_report
from tests.conftest import EXAMPLE_CONFIG

FLAKY = "example/tests/test_orders.py::test_flaky_on_request"
BROKEN = "example/tests/test_orders.py::test_always_broken"


def record(i: int, status: str = "passed", failed: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    tests = {"passed": 5, "failed": len(failed), "errors": 0, "skipped": 1}
    return {
        "iteration": i,
        "status": status,
        "seconds": 5.0 + i,
        "phases": {"up": 1.0 + i / 10, "ready": 2.0, "test": 1.5},
        "tests": tests,
        "failed_tests": list(failed),
        "leaked": {"containers": [], "networks": [], "volumes": []},
        "disk": {"total": 1_000_000 + 1000 * i},
        **extra,
    }


def test_percentile_linear_interpolation() -> None:
    values = [float(v) for v in range(1, 11)]
    assert soak_report.percentile(values, 50) == 5.5
    assert soak_report.percentile(values, 95) == pytest.approx(9.55)
    assert soak_report.percentile(values, 0) == 1 and soak_report.percentile(values, 100) == 10
    assert soak_report.percentile([3.0], 95) == 3.0
    assert soak_report.percentile([10.0, 1.0, 5.0], 50) == 5.0  # unsorted input


@pytest.mark.parametrize("values", [[1.0, 2.0], [5.2, 1.1, 9.9, 3.3, 7.0], [float(v % 7) for v in range(20)]])
def test_percentile_agrees_with_statistics_inclusive_quantiles(values: list[float]) -> None:
    quantiles = statistics.quantiles(values, n=100, method="inclusive")
    for q in (5, 50, 95):
        assert soak_report.percentile(values, q) == pytest.approx(quantiles[q - 1])


def test_percentile_of_nothing_or_out_of_range() -> None:
    with pytest.raises(ValueError):
        soak_report.percentile([], 50)
    with pytest.raises(ValueError):
        soak_report.percentile([1.0], 101)


def test_phase_stats_per_phase_and_whole_iteration() -> None:
    stats = soak_report.phase_stats([record(i) for i in range(1, 21)])
    assert list(stats) == ["up", "ready", "test", "iteration"]
    assert stats["up"] == {"count": 20, "p50": 2.05, "p95": 2.905, "max": 3.0}
    assert stats["ready"]["p95"] == 2.0 and stats["iteration"]["max"] == 25.0


def test_flaky_is_failed_in_some_iterations_and_passed_in_others() -> None:
    records = [
        record(1, "tests_failed", (FLAKY, BROKEN)),
        record(2, "tests_failed", (BROKEN,)),
        record(3, "tests_failed", (FLAKY, BROKEN)),
        record(4, "infra_error", tests={}),  # tests never ran: neither a pass nor a fail for anyone
        record(5, "tests_failed", (BROKEN,)),
    ]
    flaky, always = soak_report.test_outcomes(records)
    assert flaky == [{"id": FLAKY, "failed_in": [1, 3], "passed_in": [2, 5], "ran": 4}]
    assert always == [{"id": BROKEN, "failed_in": [1, 2, 3, 5], "passed_in": [], "ran": 4}]


def test_summary_pass_rate_leaves_out_interrupted_iterations() -> None:
    records = [record(1), record(2, "tests_failed", (FLAKY,)), record(3), record(4, "interrupted")]
    report = soak_report.summarize(records, mode="fresh", stopped="interrupted by SIGINT")
    assert (report["iterations"], report["counted"], report["passed"], report["failed"]) == (4, 3, 2, 1)
    assert report["pass_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert report["stopped"] == "interrupted by SIGINT"
    assert [f["iteration"] for f in report["failures"]] == [2]


def test_leaks_and_disk_growth() -> None:
    leaky = record(3, leaked={"containers": ["abc"], "networks": [], "volumes": ["v1", "v2"]})
    report = soak_report.summarize([record(1), record(2), leaky])
    assert report["leaks"] == {
        "checked": 3,
        "iterations_with_leaks": [3],
        "total": {"containers": 1, "networks": 0, "volumes": 2},
        "grew": True,
    }
    assert report["disk"]["growth"] == 2000 and report["disk"]["growth_per_iteration"] == 1000
    clean = soak_report.summarize([record(1, disk=None), record(2, leaked=None)])
    assert clean["leaks"]["grew"] is False and clean["leaks"]["checked"] == 1
    assert clean["disk"]["first"] == clean["disk"]["last"] == 1_002_000


def test_markdown_report_lists_phases_flaky_tests_and_leaks() -> None:
    records = [
        record(i, "tests_failed" if i % 2 else "passed", (FLAKY,) if i % 2 else ()) for i in range(1, 5)
    ]
    text = soak_report.render_markdown(
        soak_report.summarize(records, mode="fresh stack per iteration", seconds=62)
    )
    assert "**2/4 iterations passed (50.0%)** — fresh stack per iteration, 4 iterations in 1m02s" in text
    assert "| phase | runs | p50 (s) | p95 (s) | max (s) |" in text
    assert "| ready | 4 | 2.00 | 2.00 | 2.00 |" in text and "| iteration | 4 |" in text
    assert f"| `{FLAKY}` | 2/4 (iterations 1, 3) | 2/4 |" in text
    assert "none: nothing labelled with an iteration's project remained after any of 4." in text
    assert "change +3.00 kB" in text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2h", 7200), ("90m", 5400), ("1h30m", 5400), ("45s", 45), ("600", 600), ("1.5h", 5400), (30, 30)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2x", "h", "-5", "0"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text, "--duration")


def test_human_units() -> None:
    assert soak_report.format_duration(3725) == "1h02m05s" and soak_report.format_duration(59.6) == "1m00s"
    assert soak_report.human_bytes(999) == "999 B" and soak_report.human_bytes(1_536_000_000) == "1.54 GB"


def test_soak_table_in_config(tmp_path: Path) -> None:
    (tmp_path / "ci-toolkit.toml").write_text(
        EXAMPLE_CONFIG + '\n[soak]\nduration = "1h30m"\niteration_timeout = 600\nsuite = "smoke"\n'
    )
    soak = config.load(tmp_path).soak
    assert (soak.duration, soak.iteration_timeout, soak.suite, soak.heartbeat) == (5400, 600, "smoke", 60)


def test_soak_table_problems(tmp_path: Path) -> None:
    (tmp_path / "ci-toolkit.toml").write_text(
        EXAMPLE_CONFIG + '\n[soak]\nduration = "2 days"\nsuite = "smok"\niterations = 0\nfailfast = true\n'
    )
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path)
    message = str(info.value)
    assert "soak.duration: '2 days' is not a duration" in message
    assert "soak.suite: unknown suite 'smok' (did you mean 'smoke'?)" in message
    assert "soak.iterations: must be at least 1" in message
    assert "soak.failfast: unknown key (did you mean 'fail_fast'?)" in message
