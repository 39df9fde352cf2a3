"""Services that misbehave: never ready, exit, restart-loop, turn unhealthy, die mid-test;
and failures of the run's own steps: a migration error, a pytest internal error."""

from __future__ import annotations

import re
import secrets
import time
import tomllib
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli
from tests.faults.conftest import (
    HOLD_SECONDS,
    PROMPT_SECONDS,
    assert_clean_failure,
    compose_add,
    start_run,
)

pytestmark = pytest.mark.usefixtures("engine_available")

NOT_READY = re.compile(r"service 'postgres' not ready after (\d+(?:\.\d+)?)s; last probe: (\S.*)")
PROBE_TIMEOUT = 4  # the postgres service's own readiness timeout in the two tests below


def _set_redis(project_dir: Path, extra: str) -> None:
    compose = project_dir / "docker-compose.test.yml"
    compose.write_text(compose.read_text().replace("image: redis:7\n", f"image: redis:7\n{extra}"))


def _wrong_postgres_password(project_dir: Path) -> None:
    """A password postgres never accepts, and a short readiness timeout for postgres alone."""
    cfg = project_dir / "ci-toolkit.toml"
    cfg.write_text(
        cfg.read_text()
        .replace('password = "test"', 'password = "not-the-password"')
        .replace('kind = "postgres"\n', f'kind = "postgres"\ntimeout = {PROBE_TIMEOUT}\n')
    )


def _not_ready(message: str) -> tuple[float, str]:
    """How long the message says postgres was waited for, and its last probe's error."""
    found = NOT_READY.search(message)
    assert found, message
    return float(found[1]), found[2]


def test_service_that_never_becomes_ready_times_out(example_project: Path) -> None:
    """The whole run: infra_error, the bundle, no leak, and a message naming the service, the wait
    (at least its timeout) and the last probe's error. The window counts from `up`, so on a
    loaded machine it can close while postgres is still in initdb: the last error is then that
    moment's connection error, not the password (the next test pins that down)."""
    _wrong_postgres_password(example_project)
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
    waited, last_error = _not_ready(data["message"])
    assert waited >= PROBE_TIMEOUT, data["message"]
    assert last_error.strip(), data["message"]
    assert "logs/postgres.log" in (Path(data["artifacts_dir"]) / "SUMMARY.md").read_text()


def test_wrong_password_is_the_last_probe_error_once_postgres_answers(example_project: Path) -> None:
    """`stack up` waits until postgres accepts the right password; then `stack wait`, whose window
    starts when it is called, probes a postgres known to answer: every attempt is refused."""
    project = f"pw-{secrets.token_hex(4)}"
    try:
        up = run_cli(["stack", "up", "--wait", "--project", project], example_project)
        assert up.returncode == 0, up.output
        _wrong_postgres_password(example_project)
        waited = run_cli(["stack", "wait"], example_project)
        assert waited.returncode == 4, waited.output
        seconds, last_error = _not_ready(waited.stderr)
        assert seconds >= PROBE_TIMEOUT, waited.stderr
        assert "password authentication failed" in last_error, waited.stderr
    finally:
        run_cli(["stack", "down", "--project", project], example_project)
    assert_no_leaks(project)


def test_container_exiting_during_readiness_fails_at_once_not_at_the_timeout(example_project: Path) -> None:
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
    assert "not ready after" not in data["message"]  # the exit is the failure, not a timeout
    # The container watch (every 0.2 s) noticed, not the readiness timeout running out: that
    # would take the whole window, counted from `up`; half of it is room for any loaded machine.
    ready_timeout = tomllib.loads((example_project / "ci-toolkit.toml").read_text())["timeouts"]["ready"]
    ready = next(p for p in data["phases"] if p["name"] == "ready")
    assert ready["seconds"] < ready_timeout / 2, ready


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
    compose_add(
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
    (example_project / "example" / "tests" / "test_zz_kill.py").write_text(f"""
import os, pathlib, subprocess, time

def test_redis_goes_away():
    project = os.environ["CI_TOOLKIT_PROJECT"]
    subprocess.run(["docker", "compose", "-p", project, "kill", "redis"], check=True, capture_output=True)
    pathlib.Path(os.environ["FAULT_MARKER"]).write_text("killed")
    time.sleep({HOLD_SECONDS})
""")
    marker = tmp_path / "redis-killed"
    run = start_run(example_project, env={"FAULT_MARKER": str(marker)})
    run.wait_for_file(marker)
    killed = time.monotonic()
    code, data, output = run.finish()
    assert time.monotonic() - killed < PROMPT_SECONDS  # ended by the watch, not by the test's sleep
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
    compose_add(
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


LATE_JOB_TEST = """
import os, subprocess, time

def test_the_late_job_finishes_while_the_tests_run():
    project = os.environ["CI_TOOLKIT_PROJECT"]
    labels = [f"label=com.docker.compose.project={project}", "label=com.docker.compose.service=late-job"]
    ps = ["docker", "ps", "-q", *(arg for label in labels for arg in ("--filter", label))]
    (job,) = subprocess.run(ps, check=True, capture_output=True, text=True).stdout.split()
    subprocess.run(["docker", "exec", job, "touch", "/tmp/done"], check=True)
    waited = subprocess.run(["docker", "wait", job], check=True, capture_output=True, text=True)
    assert waited.stdout.strip() == "0"  # it exited, and with 0
    time.sleep(2)  # eight of ci-toolkit's 0.25 s stack checks see it exited before the tests end
"""


def test_one_shot_jobs_before_and_during_the_tests_are_not_failures(example_project: Path) -> None:
    """A seed job that finished before `up` returned, and a job that finishes while the tests
    run: both exit 0, and neither is a broken service. The late job runs until a test tells it
    to finish, so it finishes during the tests however long the stack took to come up."""
    compose_add(
        example_project,
        """  seed:
    image: redis:7
    command: ["sh", "-c", "exit 0"]
  late-job:
    image: redis:7
    command: ["sh", "-c", "until [ -e /tmp/done ]; do sleep 0.1; done"]
  waits-for-seed:
    image: redis:7
    depends_on:
      seed:
        condition: service_completed_successfully
""",
    )
    (example_project / "example" / "tests" / "test_zz_wait.py").write_text(LATE_JOB_TEST)
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
