"""The job summary's Mermaid charts for a small known history."""

from __future__ import annotations

from ci_toolkit.history import queries
from ci_toolkit.history.model import RunRecord
from ci_toolkit.output.trend_chart import mermaid


def record(i: int, up: float, passed: int, failed: int, coverage: float | None) -> RunRecord:
    return RunRecord(
        run_id=f"r{i}", finished_at=1_767_225_600 + i * 60, status="passed" if not failed else "tests_failed",
        exit_code=1 if failed else 0, counts={"passed": passed, "failed": failed},
        coverage_percent=coverage, phases={"up": up, "snapshot": 0.0, "test": 2.5},
        commit=f"{i}abcdef0123",
    )  # fmt: skip


def test_two_runs_give_the_exact_mermaid_text() -> None:
    text = mermaid(queries.trend([record(1, 1.25, 3, 1, 80.0), record(2, 0.75, 4, 0, 82.5)]))
    assert text == (
        "### Trend over the last 2 runs\n\n"
        "Phase times in seconds, one line per phase: up, test.\n\n"
        "```mermaid\nxychart-beta\n"
        '    title "Phase times (s)"\n'
        '    x-axis ["1abcdef", "2abcdef"]\n'
        '    y-axis "seconds" 0 --> 2.75\n'
        "    line [1.25, 0.75]\n"
        "    line [2.5, 2.5]\n"
        "```\n\nPass rate (first line) and coverage (second line), in percent.\n\n"
        "```mermaid\nxychart-beta\n"
        '    title "Pass rate and coverage (%)"\n'
        '    x-axis ["1abcdef", "2abcdef"]\n'
        '    y-axis "percent" 0 --> 100\n'
        "    line [75, 100]\n"
        "    line [80, 82.5]\n"
        "```\n"
    )


def test_no_runs_is_a_sentence_and_quotes_in_labels_cannot_break_the_chart() -> None:
    assert "No recorded runs yet" in mermaid(queries.trend([]))
    odd = RunRecord("r", 0, "passed", 0, {"passed": 1}, None, {"up": 1.0}, commit='ab"c')
    assert 'x-axis ["ab\'c"]' in mermaid(queries.trend([odd]))


def test_a_commit_run_twice_gets_its_own_x_position_and_a_missing_value_is_said_to_be_zero() -> None:
    # Mermaid's x-axis is a band scale: two equal labels would collapse into one band.
    again = [record(1, 1.0, 3, 0, 80.0), record(1, 1.0, 0, 0, None), record(1, 1.0, 3, 0, 81.0)]
    text = mermaid(queries.trend(again))
    assert text.count('x-axis ["1abcdef", "1abcdef #2", "1abcdef #3"]') == 2
    assert "    line [100, 0, 100]\n    line [80, 0, 81]\n" in text
    assert "in percent; a run without a value is drawn at 0." in text
    timed = RunRecord("r", 1_767_225_600, "passed", 0, {"passed": 1}, None, {"up": 1.0})
    labels = mermaid(queries.trend([timed, timed]))
    assert 'x-axis ["01-01 00:00", "01-01 00:00 #2"]' in labels
    assert "Pass rate in percent (no run measured coverage)." in labels
