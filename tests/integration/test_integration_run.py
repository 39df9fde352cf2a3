"""Whole `integration-run`s of the bundled example on the real engine, as a user runs them."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

import pytest

from tests.conftest import REPO, CliResult, assert_no_leaks, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

PHASES = ["validate", "secrets", "up", "ready", "migrate", "snapshot", "reset", "test", "collect", "down"]


def unique(prefix: str = "it") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def run_json(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[CliResult, dict]:  # type: ignore[type-arg]
    result = run_cli(["integration-run", "--json", *args], cwd, env)
    return result, result.json()


def test_bundled_example_passes_and_leaves_nothing(tmp_path: Path) -> None:
    project = unique()
    result, data = run_json(REPO, "--project", project, "--artifacts-dir", str(tmp_path / "art"))
    assert result.returncode == 0, result.output
    assert data["status"] == "passed" and data["exit_code"] == 0 and data["project"] == project
    assert data["tests"]["passed"] >= 3 and data["tests"]["failed"] == 0
    assert [p["name"] for p in data["phases"]] == PHASES
    statuses = {p["name"]: p["status"] for p in data["phases"]}
    off = {"snapshot", "reset"}  # fast re-runs (--snapshot, --reuse) not asked
    assert statuses == {name: "skipped" if name in off else "ok" for name in PHASES}  # API_KEY is optional
    assert all(p["seconds"] > 0 for p in data["phases"] if p["name"] not in off)
    assert set(data["services"]) == {"postgres", "redis", "nats"}
    for svc in data["services"].values():
        assert svc["host"] == "127.0.0.1" and svc["ready_seconds"] > 0 and svc["ports"]
    assert data["coverage_percent"] > 50
    run_dir = Path(data["artifacts_dir"])
    for name in (
        "junit.xml",
        "coverage.xml",
        "htmlcov/index.html",
        "run.json",
        "ps.json",
        "logs/postgres.log",
        "logs/redis.log",
        "logs/nats.log",
    ):
        assert (run_dir / name).exists(), name
    # Progress went to stderr: phase timings and the pass count are there for a human.
    assert "<== ready ok in" in result.stderr and "10 passed" in result.stderr
    assert_no_leaks(project)


def test_two_runs_at_the_same_moment_both_pass(tmp_path: Path) -> None:
    results: dict[int, CliResult] = {}

    def go(i: int) -> None:
        results[i] = run_cli(["integration-run", "--json", "--artifacts-dir", str(tmp_path)], REPO)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    projects = set()
    for result in results.values():
        data = result.json()
        assert result.returncode == 0, result.output
        assert data["tests"]["failed"] == 0 and data["tests"]["passed"] >= 3
        projects.add(data["project"])
    assert len(projects) == 2  # unique project per run, dynamic ports: no collision
    ports = [tuple(sorted(r.json()["services"]["postgres"]["ports"].values())) for r in results.values()]
    assert ports[0] != ports[1]
    for project in projects:
        assert_no_leaks(project)


def test_missing_required_env_lists_every_name_and_starts_nothing(example_project: Path) -> None:
    cfg = example_project / "ci-toolkit.toml"
    cfg.write_text(cfg.read_text().replace("[env]\n", '[env]\nrequired = ["CITK_ONE", "CITK_TWO"]\n'))
    project = unique()
    result, data = run_json(example_project, "--project", project)
    assert result.returncode == 3, result.output
    assert data["status"] == "env_error"
    assert "CITK_ONE" in data["message"] and "CITK_TWO" in data["message"]
    assert "CITK_ONE, CITK_TWO" in result.stderr
    assert [p["name"] for p in data["phases"]] == ["validate", "collect"]  # no `up`, so no `down`
    assert_no_leaks(project)


def test_failing_migration_is_named_with_line_and_stack_torn_down(example_project: Path) -> None:
    (example_project / "migrations" / "003_broken.sql").write_text(
        "CREATE TABLE ok_table (id int);\n\nALTER TABLE orders ADD COLUMN note txt;\n"
    )
    project = unique()
    result, data = run_json(example_project, "--project", project)
    assert result.returncode == 5, result.output
    assert data["status"] == "migration_error"
    assert "003_broken.sql" in data["message"] and "line 3" in data["message"]
    assert 'type "txt" does not exist' in data["message"]
    assert [p["status"] for p in data["phases"] if p["name"] == "down"] == ["ok"]
    assert_no_leaks(project)


def test_failing_test_gives_exit_1_and_names_the_test(example_project: Path) -> None:
    (example_project / "example" / "tests" / "test_broken.py").write_text(
        "def test_answer():\n    assert 6 * 7 == 43, 'arithmetic is broken'\n"
    )
    project = unique()
    result, data = run_json(example_project, "--project", project)
    assert result.returncode == 1, result.output
    assert data["status"] == "tests_failed"
    assert data["tests"]["failed"] == 1 and data["tests"]["passed"] >= 3
    (failed,) = data["failed_tests"]
    assert failed["id"] == "example/tests/test_broken.py::test_answer"
    assert failed["line"] == 2  # the failing assert, not the def
    assert "arithmetic is broken" in failed["message"]
    assert_no_leaks(project)


def test_service_absent_from_compose_is_a_config_error_with_suggestion(example_project: Path) -> None:
    cfg = example_project / "ci-toolkit.toml"
    cfg.write_text(cfg.read_text().replace("[services.redis]", "[services.rediss]"))
    project = unique()
    result, data = run_json(example_project, "--project", project)
    assert result.returncode == 2, result.output
    assert (
        "services.rediss: no such service in docker-compose.test.yml (did you mean 'redis'?)"
        in data["message"]
    )
    assert_no_leaks(project)


def test_pytest_collecting_nothing_is_a_runner_error(example_project: Path) -> None:
    project = unique()
    result, data = run_json(example_project, "--project", project, "--", "-k", "no_such_test_anywhere")
    assert result.returncode == 6, result.output
    assert data["status"] == "test_runner_error" and "collected no tests" in data["message"]
    assert_no_leaks(project)
