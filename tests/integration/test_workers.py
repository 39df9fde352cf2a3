"""`--workers N` on one stack: each xdist worker gets its own copy of the migrated database and
its own Redis database index, so the example's isolation tests (example/tests/test_isolation.py:
each owns a table's rows and a key space while it runs) pass; with one database for all workers
they fail, which shows they can."""

from __future__ import annotations

import shutil
import socket
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE_CONFIG, CliResult, assert_no_leaks, load_config_text, run_cli
from tests.integration import test_reset
from tests.integration.test_integration_run import run_json, unique
from tests.integration.test_reset import TIMEOUT, Live
from tests.integration.test_suites_matrix import outcomes

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

SHARED_DB = 'DATABASE_URL = "postgresql://test:test@{postgres.host}:{postgres.port:5432}/app"'
SHARED_REDIS = 'REDIS_URL = "redis://{redis.host}:{redis.port:6379}/0"'
OWN_DB = SHARED_DB.replace('/app"', '/app_{worker}"')
OWN_REDIS = SHARED_REDIS.replace('/0"', '/{worker.index}"')
WORKER_FREE_DSN = 'dsn = "postgresql://test:test@{postgres.host}:{postgres.port:5432}/app"'
OWN_DATA_CONFIG = EXAMPLE_CONFIG.replace(SHARED_DB, OWN_DB).replace(SHARED_REDIS, OWN_REDIS)
OWN_DATA_CONFIG = OWN_DATA_CONFIG.replace('dsn = "{export.DATABASE_URL}"', WORKER_FREE_DSN)
ISOLATION = [f"test_a_worker_sees_only_its_own_rows_and_keys[{part}]" for part in "abcd"]


def per_worker(project: Path) -> Path:
    """The example copy's config with an own database and Redis index per worker (as the bundled
    pyproject.toml has them); migrations on the database the copies are made from."""
    (project / "ci-toolkit.toml").write_text(OWN_DATA_CONFIG)
    return project


def test_isolation_tests_pass_with_a_database_per_worker_and_fail_on_a_shared_one(
    example_project: Path, tmp_path: Path
) -> None:
    own = per_worker(example_project)
    shared = tmp_path / "shared"  # the same, with the exports' {worker} dropped
    shutil.copytree(own, shared)
    cfg = shared / "ci-toolkit.toml"
    cfg.write_text(cfg.read_text().replace(OWN_DB, SHARED_DB).replace(OWN_REDIS, SHARED_REDIS))
    results: dict[str, tuple[CliResult, dict]] = {}  # type: ignore[type-arg]

    def go(name: str, root: Path) -> None:
        results[name] = run_json(root, "--project", unique("wk"), "--workers", "2")

    threads = [threading.Thread(target=go, args=item) for item in (("own", own), ("shared", shared))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    result, data = results["own"]
    assert result.returncode == 0, result.output
    assert "    workers gw0, gw1: app_gw0, app_gw1, app_main cloned from app in " in result.stderr
    ran = outcomes(Path(data["artifacts_dir"]))
    assert all(ran[name] == "passed" for name in ISOLATION), ran
    assert data["tests"]["failed"] == 0
    assert_no_leaks(data["project"])

    result, data = results["shared"]
    assert result.returncode == 1, result.output
    assert "share the stack's data: no export uses {worker}" in result.stderr
    failed = {f["id"].split("::")[1]: f["message"] for f in data["failed_tests"]}
    assert failed and set(failed) <= set(ISOLATION), failed  # only the isolation tests collide
    messages = " ".join(failed.values())
    assert "another worker shares my data" in messages
    assert "table owned_rows holds" in messages and "Redis holds" in messages, messages
    assert_no_leaks(data["project"])


def test_without_xdist_the_tests_get_the_main_copy(example_project: Path) -> None:
    result, data = run_json(per_worker(example_project), "--project", unique("wk"))
    assert result.returncode == 0, result.output
    assert "    worker main: app_main cloned from app in " in result.stderr
    ran = outcomes(Path(data["artifacts_dir"]))
    assert all(ran[name] == "passed" for name in ISOLATION), ran
    assert_no_leaks(data["project"])


def test_a_warm_lease_run_copies_the_reset_database_again(example_project: Path) -> None:
    project = per_worker(example_project)
    try:
        runs = [run_json(project, "--reuse", "--workers", "2") for _ in range(2)]
    finally:
        down = run_cli(["stack", "down", "--lease"], project)
    assert down.returncode == 0, down.output
    for result, _ in runs:
        assert result.returncode == 0, result.output
        assert "    workers gw0, gw1: app_gw0, app_gw1, app_main cloned from app in " in result.stderr
    (_, first), (second_result, second) = runs
    assert first["reuse"]["warm"] is False and second["reuse"]["warm"] is True
    assert "pytest forked ahead from the lease's warm interpreter" in second_result.stderr
    ran = outcomes(Path(second["artifacts_dir"]))
    assert all(ran[name] == "passed" for name in ISOLATION), ran
    assert_no_leaks(second["project"])


# The copies themselves, against a real Postgres (test_reset's stack): a client still connected
# to the source or to an old copy does not stop them, and a failure names service and database.

live = test_reset.live  # the fixture: its stack, made once for this module


@pytest.fixture
def db_plan(tmp_path: Path, live: Live) -> tuple[Any, Any]:
    from ci_toolkit.pipeline import workers

    cfg = load_config_text(tmp_path, OWN_DATA_CONFIG)
    (db_check,) = [c for c in live.checks if c.kind == "postgres"]
    cfg = replace(cfg, services=(db_check,))
    return workers.plan(cfg, "2"), cfg


def test_copies_are_fresh_each_time_whoever_is_connected(live: Live, db_plan: tuple[Any, Any]) -> None:
    import psycopg

    from ci_toolkit.pipeline import workers

    made, cfg = db_plan
    with psycopg.connect(live.dsn(), autocommit=True) as source:  # e.g. an app container's pool
        source.execute("CREATE TABLE IF NOT EXISTS migrated (n int)")
        assert workers.clone_databases(made, cfg, live.services, TIMEOUT) == [
            ("app", ["app_gw0", "app_gw1", "app_main"])
        ]  # main: the xdist controller
    with psycopg.connect(live.dsn("app_gw0"), autocommit=True) as copy:
        assert copy.execute("SELECT to_regclass('migrated')").fetchone() == ("migrated",)
        copy.execute("CREATE TABLE written_by_a_test (n int)")
        workers.clone_databases(made, cfg, live.services, TIMEOUT)  # ends this very connection
    with psycopg.connect(live.dsn("app_gw0"), autocommit=True) as again:
        assert again.execute("SELECT to_regclass('written_by_a_test')").fetchone() == (None,)


def test_a_copy_that_cannot_be_made_names_the_service_and_database(
    live: Live, db_plan: tuple[Any, Any]
) -> None:
    from ci_toolkit.errors import InfrastructureError
    from ci_toolkit.pipeline import workers

    made, cfg = db_plan
    missing = replace(cfg, services=(replace(cfg.services[0], database="nosuch"),))
    with pytest.raises(InfrastructureError, match=r"service db: database nosuch does not exist"):
        workers.clone_databases(made, missing, live.services, TIMEOUT)
    closed = {"db": replace(live.services["db"], ports={5432: free_port()})}
    with pytest.raises(
        InfrastructureError, match=r"service db: could not connect to 127.0.0.1:\d+ .* to copy app"
    ):
        workers.clone_databases(made, cfg, closed, 2.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
