"""The durations ledger: smoothing, setup and teardown apart, stale ids, merge, a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_toolkit.errors import ConfigError
from ci_toolkit.shard import ledger
from ci_toolkit.shard.ledger import Ledger, Timing


def test_a_new_figure_is_smoothed_into_the_old_one() -> None:
    first = Ledger().updated({"t.py::a": Timing(call=2.0)})
    second = first.updated({"t.py::a": Timing(call=1.0)})
    assert second.tests["t.py::a"].call == pytest.approx(1.5)
    assert second.tests["t.py::a"].runs == 2


def test_a_slow_shared_fixture_does_not_make_its_first_test_costly() -> None:
    seen = {f"t.py::t{i}": Timing(call=0.1, setup=0.001, teardown=0.001) for i in range(9)}
    seen["t.py::t0"] = Timing(call=0.1, setup=5.0, teardown=0.001)  # a module fixture's setup
    recorded = Ledger().updated(seen)
    assert recorded.costs()["t.py::t0"] == pytest.approx(0.102)
    assert recorded.shared_setup() == {"t.py": pytest.approx(4.999)}  # paid once per shard t.py is on


def test_stale_ids_are_dropped_and_tests_of_files_not_collected_kept(tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text("")
    (tmp_path / "other.py").write_text("")
    old = Ledger(
        {
            "t.py::gone": Timing(1.0),
            "t.py::kept": Timing(1.0),
            "other.py::x": Timing(1.0),
            "deleted.py::y": Timing(1.0),
        }
    )
    new = old.updated({"t.py::kept": Timing(2.0)}, collected=["t.py::kept", "t.py::new"], root=tmp_path)
    assert sorted(new.tests) == ["other.py::x", "t.py::kept"]


def test_phase_records_add_up_rerun_attempts_and_skip_cut_lines(tmp_path: Path) -> None:
    record = tmp_path / ledger.PHASES_FILE
    record.write_text(
        "setup\t0.5\tt.py::a\ncall\t1.0\tt.py::a\ncall\t1.0\tt.py::a\nteardown\t0.25\tt.py::a\ncall\t0.\n"
        "call\tnope\tt.py::b\n"
    )
    assert ledger.read_phases(record) == {"t.py::a": Timing(call=2.0, setup=0.5, teardown=0.25)}


def test_merge_takes_each_test_from_the_shard_that_ran_it() -> None:
    start = Ledger({"a": Timing(1.0, runs=3), "b": Timing(1.0, runs=3)})
    shard1 = start.updated({"a": Timing(3.0)})
    shard2 = start.updated({"b": Timing(5.0), "c": Timing(7.0)})
    merged = ledger.merge([shard1, shard2])
    assert merged.tests == {"a": Timing(2.0, runs=4), "b": Timing(3.0, runs=4), "c": Timing(7.0, runs=1)}


def test_saved_and_loaded_back_equal(tmp_path: Path) -> None:
    led = Ledger({"t.py::a": Timing(1.25, 0.5, 0.125, 2)})
    ledger.save(led, tmp_path / "d" / "durations.json")
    assert ledger.load(tmp_path / "d" / "durations.json") == led
    assert ledger.load(tmp_path / "missing.json") == Ledger()


def test_a_file_that_is_not_a_ledger_is_named_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    path.write_text(json.dumps({"tests": {"a": {"setup": 1}}}))
    with pytest.raises(ConfigError) as caught:
        ledger.load(path)
    assert str(path) in caught.value.message and "delete it" in (caught.value.hint or "")


def test_a_record_with_bytes_that_are_not_utf8_is_still_read(tmp_path: Path) -> None:
    record = tmp_path / "phases.tsv"
    record.write_bytes(b"call\t1.5\tt.py::test_x[\xff]\ncall\t2.0\tt.py::b\n")
    timings = ledger.read_phases(record)
    assert timings["t.py::b"] == Timing(call=2.0)
    assert timings["t.py::test_x[\ufffd]"] == Timing(call=1.5)
