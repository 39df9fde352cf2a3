"""The reuse benchmarks without an engine: the heavy migration set and the workdir it is run in,
and the figures, targets and RESULTS.md sections made from warm and snapshot samples."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest

from benchmarks import heavy_fixture, markdown_reuse, reuse, targets
from benchmarks import results as results_doc
from ci_toolkit.config import load as load_config
from ci_toolkit.pipeline.migrations import discover


def digest(directory: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(directory.iterdir()):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def test_the_heavy_set_has_300_ordered_migrations_and_is_the_same_every_time(tmp_path: Path) -> None:
    written = heavy_fixture.write(tmp_path / "a")
    heavy_fixture.write(tmp_path / "b")
    assert len(written) == heavy_fixture.MIGRATIONS >= 300
    found = discover(tmp_path / "a")  # ci-toolkit's own reading of the directory: names, order
    assert [m.path for m in found] == sorted(written)
    assert [m.version for m in found] == list(range(1, len(written) + 1))
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    sql = "".join(p.read_text() for p in written)
    for statement in ("generate_series", "CREATE INDEX", "CREATE VIEW", "CREATE FUNCTION", "REFERENCES"):
        assert statement in sql


@pytest.mark.parametrize("heavy", [True, False])
def test_the_workdir_is_a_valid_project_under_the_run_prefix(tmp_path: Path, heavy: bool) -> None:
    dest = heavy_fixture.workdir(tmp_path / "w", heavy=heavy, project_prefix="bench-abc123")
    config = load_config(dest)
    assert config.project_prefix == "bench-abc123"
    assert [s.name for s in config.services] == ["postgres", "redis", "nats"]
    migrations = discover(dest / "migrations")
    assert migrations[-1].name.endswith("_bench_marks.sql")
    assert len(migrations) == (heavy_fixture.MIGRATIONS + 1 if heavy else 3)
    tests = (dest / "bench_tests" / "test_state.py").read_text()
    compile(tests, "test_state.py", "exec")
    compile((dest / "bench_tests" / "conftest.py").read_text(), "conftest.py", "exec")
    assert f"applied == ({len(migrations)},)" in tests


def sample(seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "ok": True,
        "seconds": seconds,
        "wall": seconds + 1,
        "phases": {"validate": 0.3, "up": 0.01, "reset": 0.02},
        "parts": {reuse.PARTS[0]: 0.33, reuse.PARTS[1]: 0.1, reuse.PARTS[2]: seconds - 0.43},
        **extra,
    }


def test_warm_and_snapshot_figures_meet_or_miss_their_targets() -> None:
    warm = {
        "lease": [sample(6.0)],
        "lease_heavy": [sample(25.0)],
        "fresh": [sample(4.0), sample(4.4)],
        "warm": [sample(0.4), sample(0.6), {"ok": False, "problem": "failed: bench_marks still has rows"}],
        "warm_heavy": [sample(0.7)],
    }
    snap = {
        "miss": [sample(20.0)],
        "fresh": [sample(18.0, database_bytes=60e6), sample(20.0)],
        "hit": [sample(3.0), sample(5.0)],
    }
    w = results_doc.warm(warm, reuse.labels("warm"))
    s = results_doc.snapshot(snap, reuse.labels("snapshot"))
    assert w["first_test_seconds"] == 0.5 and w["fresh_first_test_seconds"] == pytest.approx(4.2)
    assert w["alternatives"]["warm"]["valid"] == 2 and w["alternatives"]["warm"]["reps"] == 3
    assert s["speedup_vs_fresh"] == pytest.approx(19.0 / 4.0)
    assert s["database_mb"]["fresh"] == 60.0
    met = {row["key"]: row["met"] for row in targets.check_targets({"warm": w, "snapshot": s})}
    assert met["warm.first_test_seconds"] is True
    assert met["snapshot.speedup_vs_fresh"] is False  # 4.75x < 5x

    r = {"warm": w, "snapshot": s, "targets": targets.check_targets({"warm": w, "snapshot": s})}
    text = "\n".join(markdown_reuse.section(r))
    assert "## 6. Warm re-runs" in text and "## 7. Snapshots" in text
    assert "| warm run on the lease (`--reuse`), example migrations | 0.40 | 0.50 | 0.60 |" in text
    assert "2/3" in text
    lines = markdown_reuse.findings(r)
    assert lines[0].startswith("**Warm re-run** (met)") and lines[1].startswith("**Snapshot hit** (not met)")


def test_the_markdown_names_the_parts_the_suite_measures() -> None:
    assert markdown_reuse.PARTS == reuse.PARTS


def test_no_reuse_samples_no_reuse_sections() -> None:
    empty: dict[str, list[dict[str, Any]]] = {k: [] for k in reuse.labels("warm")}
    r = {"warm": results_doc.warm(empty, reuse.labels("warm")), "snapshot": {}, "targets": []}
    assert markdown_reuse.section(r) == [] and markdown_reuse.findings(r) == []


def test_a_run_is_checked_to_be_what_its_key_says() -> None:
    done = subprocess.CompletedProcess(args=[], returncode=0, stdout="", stderr="")
    passed = {"status": "passed", "reuse": {"lease": "bench-x-lease", "warm": False}}
    assert reuse.problem("lease", passed, done) == ""
    assert "expected reuse.warm = True" in reuse.problem("warm", passed, done)
    hit = {"status": "passed", "snapshot": {"key": "k", "hit": True, "saved": False}}
    assert reuse.problem("hit", hit, done) == ""
    assert "expected snapshot.hit = False" in reuse.problem("miss", hit, done)
    assert "reused something" in reuse.problem("fresh", hit, done)
    failed = {"status": "failed", "message": "1 test failed", "failed_tests": ["test_redis"]}
    assert "1 test failed test_redis" in reuse.problem("warm", failed, done)
    assert reuse.problem("fresh", None, done).startswith("no JSON result")
