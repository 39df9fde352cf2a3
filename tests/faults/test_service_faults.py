"""Services that misbehave: never ready, exit, restart-loop, turn unhealthy, die mid-test;
and failures of the run's own steps: a migration error, a pytest internal error."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks
from tests.faults.conftest import assert_clean_failure, start_run

pytestmark = pytest.mark.usefixtures("engine_available")


def _compose_add(project_dir: Path, service_yaml: str) -> None:
    compose = project_dir / "docker-compose.test.yml"
    compose.write_text(compose.read_text().replace("\nvolumes:\n", f"\n{service_yaml}\nvolumes:\n"))


def _set_redis(project_dir: Path, extra: str) -> None:
    compose = project_dir / "docker-compose.test.yml"
    compose.write_text(compose.read_text().replace("image: redis:7\n", f"image: redis:7\n{extra}"))


def test_service_that_never_becomes_ready_times_out(example_project: Path) -> None:
    cfg = example_project / "ci-toolkit.toml"
    cfg.write_text(
        cfg.read_text()
        .replace('password = "test"', 'password = "not-the-password"')
        .replace('kind = "postgres"\n', 'kind = "postgres"\ntimeout = 4\n')
    )
    code, data, output = start_run(example_project).finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=4,
        status="infra_error",
        message="service 'postgres' not ready after",
        project=data["project"],
    )
    assert "password authentication failed" in data["message"]
    assert "logs/postgres.log" in (Path(data["artifacts_dir"]) / "SUMMARY.md").read_text()


def test_container_exiting_during_readiness_fails_within_a_second(example_project: Path) -> None:
    _set_redis(example_project, '    command: ["redis-server", "--no-such-option", "1"]\n')
    code, data, output = start_run(example_project).finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=4,
        status="infra_error",
        message="exited with code 1",
        project=data["project"],
    )
    assert "last log lines of redis" in data["message"]
    ready = next(p for p in data["phases"] if p["name"] == "ready")
    assert ready["seconds"] < 3  # redis dies at once; we notice within the 0.2 s watch interval


def test_restart_loop_is_reported(example_project: Path) -> None:
    _set_redis(
        example_project, '    restart: always\n    command: ["redis-server", "--no-such-option", "1"]\n'
    )
    code, data, output = start_run(example_project).finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=4,
        status="infra_error",
        message="service 'redis' failed",
        project=data["project"],
    )
    assert "restart-looping" in data["message"] or "exited with code 1" in data["message"]


def test_unhealthy_container_is_reported_with_its_healthcheck(example_project: Path) -> None:
    _compose_add(
        example_project,
        """  sidecar:
    image: redis:7
    healthcheck:
      test: ["CMD", "false"]
      interval: 200ms
      retries: 1
""",
    )
    code, data, output = start_run(example_project).finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=4,
        status="infra_error",
        message="service 'sidecar' failed while starting: container",
        project=data["project"],
    )
    assert "turned unhealthy" in data["message"]
    inspect = (Path(data["artifacts_dir"]) / "inspect.json").read_text()
    assert '"Health"' in inspect  # the health-check log is in the bundle


def test_service_dying_mid_test_ends_the_run_quickly(example_project: Path, tmp_path: Path) -> None:
    (example_project / "example" / "tests" / "test_zz_kill.py").write_text("""
import os, subprocess, time

def test_redis_goes_away():
    project = os.environ["CI_TOOLKIT_PROJECT"]
    subprocess.run(["docker", "compose", "-p", project, "kill", "redis"], check=True, capture_output=True)
    time.sleep(60)
""")
    started = time.monotonic()
    code, data, output = start_run(example_project).finish()
    assert time.monotonic() - started < 40  # not the 60 s sleep
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=4,
        status="infra_error",
        message="service 'redis' failed during the tests",
        project=data["project"],
    )
    assert "exited with code 137" in data["message"]


def test_migration_syntax_error_names_file_and_line(example_project: Path) -> None:
    (example_project / "migrations" / "003_typo.sql").write_text(
        "-- add a column\nALTER TABLE orders ADD COLUM x int;\n"
    )
    code, data, output = start_run(example_project).finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=5,
        status="migration_error",
        message="003_typo.sql, line 2",
        project=data["project"],
    )
    assert "syntax error" in data["message"]


def test_pytest_internal_error(example_project: Path) -> None:
    (example_project / "example" / "tests" / "conftest.py").write_text(
        (example_project / "example" / "tests" / "conftest.py").read_text()
        + "\n\ndef pytest_collection_finish(session):\n    raise RuntimeError('plugin bug')\n"
    )
    code, data, output = start_run(example_project).finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=6,
        status="test_runner_error",
        message="pytest hit an internal error (exit code 3)",
        project=data["project"],
    )
    assert "pytest.log" in (Path(data["artifacts_dir"]) / "SUMMARY.md").read_text()


def test_image_that_cannot_be_pulled(example_project: Path) -> None:
    _compose_add(
        example_project,
        f"""  ghost:
    image: ci-toolkit-test/does-not-exist-{secrets.token_hex(3)}:1
""",
    )
    code, data, output = start_run(example_project).finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=4,
        status="infra_error",
        message="could not pull ci-toolkit-test/does-not-exist",
        project=data["project"],
    )


def test_one_shot_jobs_before_and_during_the_tests_are_not_failures(example_project: Path) -> None:
    """A seed job that finished before `up` returned, and a job that finishes while the tests
    run: both exit 0, and neither is a broken service."""
    _compose_add(
        example_project,
        """  seed:
    image: redis:7
    command: ["sh", "-c", "exit 0"]
  late-job:
    image: redis:7
    command: ["sh", "-c", "sleep 2"]
  waits-for-seed:
    image: redis:7
    depends_on:
      seed:
        condition: service_completed_successfully
""",
    )
    (example_project / "example" / "tests" / "test_zz_wait.py").write_text(
        "import time\n\ndef test_outlives_the_late_job():\n    time.sleep(4)\n"
    )
    run = start_run(example_project)
    code, data, output = run.finish()
    assert code == 0, output
    assert data["status"] == "passed" and data["tests"]["passed"] >= 5
    assert_no_leaks(run.project)


def test_malformed_migrations_dsn_is_a_migration_error(example_project: Path) -> None:
    cfg = example_project / "ci-toolkit.toml"
    cfg.write_text(cfg.read_text().replace('dsn = "{export.DATABASE_URL}"', 'dsn = "host=127.0.0.1 bogus"'))
    code, data, output = start_run(example_project).finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=5,
        status="migration_error",
        message="cannot connect to the migrations database",
        project=data["project"],
    )
