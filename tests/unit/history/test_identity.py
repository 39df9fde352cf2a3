"""A run's id in the history stores (history/identity.py): the one integration-run writes into
run.json when the run ends, else one from run.json's content (never its mtime, which a copy
changes), the time part from the JUnit file a real pytest run writes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from ci_toolkit.history import identity
from ci_toolkit.history.record import build


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real pytest run's JUnit and a run.json as the pipeline writes it (without an id), outside
    any git repository."""
    outside = tmp_path / "outside"
    outside.mkdir()
    monkeypatch.chdir(outside)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    run = tmp_path / "ci-artifacts" / "rec-1234"
    run.mkdir(parents=True)
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={run / 'junit.xml'}"]
    done = subprocess.run([*cmd, "test_one.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    result = {"status": "passed", "exit_code": 0, "project": "rec-1234", "tests": {"passed": 1}}
    (run / "run.json").write_text(json.dumps(result, indent=2) + "\n")
    return run


def suite_end(junit: Path) -> float:
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    return datetime.fromisoformat(str(suite.get("timestamp"))).timestamp() + float(suite.get("time") or 0)


def test_run_id_is_the_one_run_json_carries_whatever_its_mtime(run_dir: Path) -> None:
    # integration-run writes the id into run.json when the run ends (pipeline/history_record.py).
    data = json.loads((run_dir / "run.json").read_text())
    data["history"] = {"run_id": "20261202T071503.123Z-rec-1234-0a1b2c3d"}
    (run_dir / "run.json").write_text(json.dumps(data))
    record, _ = build(run_dir, {})
    assert record.run_id == "20261202T071503.123Z-rec-1234-0a1b2c3d"
    assert record.finished_at == pytest.approx(1_796_195_703.123)
    os.utime(run_dir / "run.json", (1_700_000_000, 1_700_000_000))
    assert build(run_dir, {})[0].run_id == record.run_id


def test_a_run_json_without_an_id_gets_one_from_its_content_not_its_mtime(
    run_dir: Path, tmp_path: Path
) -> None:
    first, _ = build(run_dir, {})
    os.utime(run_dir / "run.json", (1_700_000_000, 1_700_000_000))  # touched, or unzipped
    copy = tmp_path / "copied"
    subprocess.run(["cp", "-r", str(run_dir), str(copy)], check=True)  # cp -r: a new mtime
    assert build(run_dir, {})[0].run_id == first.run_id == build(copy, {})[0].run_id
    digest = hashlib.sha256((run_dir / "run.json").read_bytes()).hexdigest()[:12]
    assert first.run_id.endswith(f"-rec-1234-{digest}")
    # The time part: when pytest's JUnit says the suite ended (its timestamp plus its time).
    ended = suite_end(run_dir / "junit.xml")
    assert first.finished_at == pytest.approx(ended)
    assert first.run_id.startswith(time.strftime("%Y%m%dT%H%M%S", time.gmtime(ended)))
    (run_dir / "run.json").write_text((run_dir / "run.json").read_text() + " ")
    assert build(run_dir, {})[0].run_id != first.run_id  # another run.json: another run


def test_without_junit_a_run_json_without_an_id_sorts_oldest(run_dir: Path) -> None:
    (run_dir / "junit.xml").unlink()
    record, _ = build(run_dir, {})
    assert record.run_id.startswith("19700101T000000.000Z-rec-1234-")
    assert record.finished_at == pytest.approx((run_dir / "run.json").stat().st_mtime)  # shown, not the id


def test_new_ids_a_millisecond_apart_sort_by_time_and_never_collide() -> None:
    at = 1_796_195_703.123
    ids = [identity.make("zeta", at), identity.make("alpha", at + 0.001)]
    assert ids == sorted(ids) and ids[0].startswith("20261202T071503.123Z-zeta-")
    assert identity.make("zeta", at) != ids[0]  # the random part: two runs ending together
    assert identity.parse_time(ids[1]) == pytest.approx(at + 0.001)
    assert identity.make("a/b ../c", at).startswith("20261202T071503.123Z-a_b_.._c-")  # no separators


def test_timestamps_are_utc_whatever_the_local_zone(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        assert identity.make("p", 1_796_195_703.0).startswith("20261202T071503.000Z-")
        junit = run_dir / "junit.xml"
        suite = ET.parse(junit).getroot().find("testsuite")
        assert suite is not None
        suite.set("timestamp", "2026-12-01T23:15:03.000000-08:00")  # pytest >= 7: local, with offset
        suite.set("time", "0.5")
        ET.ElementTree(suite).write(junit)
        assert build(run_dir, {})[0].run_id.startswith("20261202T071503.500Z-")
        suite.set("timestamp", "2026-12-01T23:15:03")  # older pytest: local time, no offset
        ET.ElementTree(suite).write(junit)
        assert build(run_dir, {})[0].run_id.startswith("20261202T071503.500Z-")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
