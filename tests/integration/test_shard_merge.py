"""`report merge` of real shards: `integration-run --shard K/N` on the real engine, then merged.

The bundled example (a copy) unsharded and as 3 shards: the merge reports what the unsharded run
reports (JUnit counts, coverage within 0.1, every test), and refuses shards that are not one
run's. Then 8 shards over a 5-test project with one Redis: three shards get no test and pass.
"""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.results.junit import read_coverage, read_junit
from tests.conftest import CliResult, assert_no_leaks, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]


Run = tuple[CliResult, dict[str, Any]]


def _run(project: Path, art: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    name = f"sm-{secrets.token_hex(4)}"
    argv = ["integration-run", "--json", "--project", name, "--artifacts-dir", str(art), *args]
    result = run_cli(argv, project, env)
    data = result.json()
    assert_no_leaks(name)
    return result, data


def _shards(project: Path, art: Path, count: int, env: dict[str, str] | None = None) -> dict[int, Run]:
    """Shards K/count at the same moment, as a workflow's matrix jobs run them, each with its own
    artifacts dir (as on its own runner)."""
    runs: dict[int, Run] = {}

    def go(k: int) -> None:
        runs[k] = _run(project, art / f"shard-{k}", "--shard", f"{k}/{count}", env=env)

    threads = [threading.Thread(target=go, args=(k,)) for k in range(1, count + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return runs


def _dir(data: dict[str, Any]) -> str:
    return str(data["artifacts_dir"])


def test_three_shards_of_the_example_merge_into_the_unsharded_result(
    example_project: Path, tmp_path: Path
) -> None:
    art = tmp_path / "art"
    whole, whole_data = _run(example_project, art / "whole")
    assert whole.returncode == 0, whole.output
    # The shards split by the ledger the unsharded run recorded, as a workflow's cached one.
    env = {"CI_TOOLKIT_DURATIONS": str(art / "whole" / "durations.json")}
    env_runs = _shards(example_project, art / "shards", 3, env)
    for result, _ in env_runs.values():
        assert result.returncode == 0, result.output
    into = tmp_path / "merged"
    merged = run_cli(
        [
            "report",
            "merge",
            str(art / "shards"),
            "--into",
            str(into),
            "--output",
            str(tmp_path / "summary.md"),
        ],
        example_project,
    )
    assert merged.returncode == 0, merged.output
    assert read_junit(into / "junit.xml") == read_junit(Path(_dir(whole_data)) / "junit.xml")
    assert read_junit(into / "junit.xml").total == sum(whole_data["tests"].values())
    percent = read_coverage(into / "coverage.xml")
    assert percent is not None and abs(percent - whole_data["coverage_percent"]) <= 0.1
    out = merged.stdout
    assert f"coverage {percent:.1f}% (merged over 3 shards" in out
    assert "balance " in out and "(slowest shard / mean; estimated " in out
    collected = (Path(_dir(whole_data)) / "collected.txt").read_text().split()
    details = out[out.index("<details>") : out.index("</details>")]
    for test_id in collected:
        assert f"`{test_id}`" in details
    for k, (_, data) in env_runs.items():
        assert f"| {k}/3 | ✅ passed | {data['shard']['selected']} |" in out
    assert (tmp_path / "summary.md").read_text() == out


def test_a_missing_shard_and_a_changed_collection_are_refused(example_project: Path, tmp_path: Path) -> None:
    art = tmp_path / "art"
    runs = _shards(example_project, art, 3)
    for result, _ in runs.values():
        assert result.returncode == 0, result.output
    into = tmp_path / "merged"

    missing = run_cli(
        ["report", "merge", _dir(runs[1][1]), _dir(runs[3][1]), "--into", str(into)], example_project
    )
    assert missing.returncode == 2, missing.output
    assert "shard 2/3 is missing" in missing.stderr
    assert _dir(runs[1][1]) in missing.stderr and _dir(runs[3][1]) in missing.stderr

    # Shard 2 again, from a commit with one more test: it split a different collection.
    (example_project / "example" / "tests" / "test_added.py").write_text("def test_added():\n    pass\n")
    again, again_data = _run(example_project, art / "shard-2-again", "--shard", "2/3")
    assert again.returncode == 0, again.output
    dirs = [_dir(runs[1][1]), _dir(again_data), _dir(runs[3][1])]
    changed = run_cli(["report", "merge", *dirs, "--into", str(into)], example_project)
    assert changed.returncode == 2, changed.output
    assert (
        "the shards collected different tests: rerun them from one commit and one durations ledger"
        in changed.stderr
    )
    assert all(d in changed.stderr for d in dirs)
    assert not (into / "junit.xml").exists()


SMALL_COMPOSE = """
services:
  redis:
    image: redis:7
    ports: ["127.0.0.1::6379"]
"""

SMALL_CONFIG = """
compose_files = ["compose.yaml"]
[services.redis]
kind = "redis"
port = 6379
[export]
REDIS_URL = "redis://{redis.host}:{redis.port:6379}/0"
[timeouts]
up = 120
ready = 60
down = 60
[pytest]
paths = ["tests"]
args = ["-q", "-p", "no:cacheprovider"]
coverage_source = ["app"]
"""

SMALL_TESTS = """
import os
import redis
from app import key


def _check(n):
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.set(key(n), n)
    assert int(client.get(key(n))) == n

"""


def test_eight_shards_over_five_tests_three_empty_ones_pass_and_the_merge_is_complete(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "app").mkdir(parents=True)
    (project / "app" / "__init__.py").write_text("def key(n):\n    return f'shard-test-{n}'\n")
    (project / "compose.yaml").write_text(SMALL_COMPOSE)
    (project / "ci-toolkit.toml").write_text(SMALL_CONFIG)
    (project / "tests").mkdir()
    body = SMALL_TESTS + "".join(f"\ndef test_{n}():\n    _check({n})\n" for n in range(5))
    (project / "tests" / "test_five.py").write_text(body)

    art = tmp_path / "art"
    runs = _shards(project, art, 8)
    for k, (result, data) in sorted(runs.items()):
        assert result.returncode == 0, result.output
        assert data["status"] == "passed" and data["shard"]["tests"] == 5
        ran = data["tests"]["passed"]
        assert data["shard"]["selected"] == ran
        if k <= 5:  # split by count (nothing recorded): one test each, then nothing
            assert ran == 1, (k, data["tests"])
        else:
            assert ran == 0 and sum(data["tests"].values()) == 0
            assert f"0 of 5 tests in shard {k}/8" in result.stderr
    merged = run_cli(["report", "merge", str(art), "--into", str(tmp_path / "merged"), "--json"], project)
    assert merged.returncode == 0, merged.output
    (run,) = merged.json()["merged"]
    assert run["tests"] == {
        "collected": 5, "ran": 5, "passed": 5, "failed": 0, "errors": 0, "skipped": 0,
        "xfailed": 0, "xpassed": 0, "rerun": 0,
    }  # fmt: skip
    assert sorted(c["id"] for c in run["cases"]) == [f"tests/test_five.py::test_{n}" for n in range(5)]
    assert sorted(c["shard"] for c in run["cases"]) == [f"{k}/8" for k in range(1, 6)]
    assert [s["selected"] for s in run["shards"]] == [1, 1, 1, 1, 1, 0, 0, 0]
    assert run["coverage"] is not None and run["coverage"]["percent"] == 100.0
    assert read_junit(tmp_path / "merged" / "junit.xml").passed == 5
    assert json.loads((tmp_path / "merged" / "durations.json").read_text())["tests"].keys() == {
        f"tests/test_five.py::test_{n}" for n in range(5)
    }
