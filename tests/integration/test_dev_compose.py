"""A developer's own compose file, as it is: more services than the tests need (two of them with
images this machine does not have) and fixed host ports. `start` picks the services (their
dependencies come along), `ports = "dynamic"` lets two runs of it share one engine."""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import PROJECT_LABEL, assert_no_leaks, engine_clock, leaked_resources, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

# As a developer writes it for `docker compose up` on a laptop: fixed host ports on every
# interface, a broker and a UI the integration tests never touch.
COMPOSE = """
services:
  postgres:
    image: postgres:15
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: app
      POSTGRES_DB: app
    ports:
      - "25432:5432"
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U app"]
      interval: 300s
      retries: 1
  app-redis:
    image: redis:7
    ports:
      - "26379:6379"
    depends_on:
      %(gate)s
  kafka:
    image: confluentinc/cp-kafka:7.6.0
    ports:
      - "29092:9092"
    depends_on: [postgres]
  pgadmin:
    image: dpage/pgadmin4:8
    ports:
      - "25050:80"
    depends_on: [postgres]
"""

CONFIG = """
compose_files = ["compose.yaml"]
%(start)s
ports = "dynamic"

[services.postgres]
kind = "postgres"
port = 5432
user = "app"
password = "app"
database = "app"

[services.app-redis]
kind = "redis"
port = 6379

[services.kafka]
kind = "tcp"
port = 9092

[export]
%(exports)s

[timeouts]
up = 120
ready = 60
down = 60

[pytest]
paths = ["tests"]
args = ["-q", "-p", "no:cacheprovider"]
"""

EXPORTS = {
    "DATABASE_URL": "postgresql://app:app@{postgres.host}:{postgres.port:5432}/app",
    "REDIS_URL": "redis://{app-redis.host}:{app-redis.port:6379}/0",
}

TESTS = """
import os, socket
from urllib.parse import urlsplit


def _answers(url, send, expect):
    parts = urlsplit(url)
    assert parts.hostname == "127.0.0.1" and parts.port not in (25432, 26379), url
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as s:
        s.sendall(send)
        assert s.recv(64).startswith(expect)


def test_postgres():
    # An SSLRequest: any Postgres answers it with one byte, S or N.
    _answers(os.environ["DATABASE_URL"], bytes.fromhex("0000000804d2162f"), b"N")


def test_redis():
    if "REDIS_URL" in os.environ:
        _answers(os.environ["REDIS_URL"], b"PING\\r\\n", b"+PONG")
"""


def _project_dir(
    root: Path,
    start: list[str] | None = None,
    exports: tuple[str, ...] = ("DATABASE_URL", "REDIS_URL"),
    gate: str = "postgres: {condition: service_healthy}",
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "compose.yaml").write_text(COMPOSE % {"gate": gate})
    (root / "ci-toolkit.toml").write_text(
        CONFIG
        % {
            "start": f"start = {json.dumps(start)}" if start is not None else "",
            "exports": "\n".join(f'{name} = "{EXPORTS[name]}"' for name in exports),
        }
    )
    (root / "tests").mkdir(exist_ok=True)
    (root / "tests" / "test_stack.py").write_text(TESTS)
    return root


@contextmanager
def services_created(project: str) -> Iterator[set[str]]:
    """The compose service of every container the engine created for `project` while the block
    ran, from the engine's event stream (a container that lived a moment is there too)."""
    stream = subprocess.Popen(
        [
            "docker", "events", "--since", engine_clock(),  # from now, even before it subscribed
            "--filter", f"label={PROJECT_LABEL}={project}",
            "--filter", "type=container", "--filter", "event=create",
            "--format", '{{index .Actor.Attributes "com.docker.compose.service"}}',
        ],
        stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert stream.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(stream.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    created: set[str] = set()
    try:
        yield created
    finally:
        stream.terminate()
        stream.wait()
        reader.join(timeout=10)
        created.update(line.strip() for line in lines if line.strip())


def test_two_runs_of_a_developer_compose_file_at_once_start_only_what_they_need(tmp_path: Path) -> None:
    projects = [f"devc-{secrets.token_hex(4)}" for _ in range(2)]
    dirs = [_project_dir(tmp_path / f"p{i}", start=["app-redis"]) for i in range(2)]
    results = {}
    try:
        with services_created(projects[0]) as first, services_created(projects[1]) as second:

            def run(i: int) -> None:
                results[i] = run_cli(["integration-run", "--json", "--project", projects[i]], dirs[i])

            threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        for i in range(2):
            result = results[i]
            assert result.returncode == 0, result.output
            data = result.json()
            assert data["status"] == "passed", result.output
            assert "2 passed" in next(p["detail"] for p in data["phases"] if p["name"] == "test")
            # The dependency came along, through the health-gated path that starts it ourselves.
            up = next(p for p in data["phases"] if p["name"] == "up")
            assert "dependency order" in up["detail"], data["phases"]
            assert "kafka: readiness check skipped: not started" in result.output, result.output
            validate = next(p for p in data["phases"] if p["name"] == "validate")
            assert "starting app-redis, postgres" in validate["detail"], validate
            owner = sorted((dirs[i] / "ci-artifacts").rglob("compose.owner.*"))
            assert [p.name for p in owner] == ["compose.owner.yaml"], owner
            assert "!override" in owner[0].read_text()
        assert first == {"postgres", "app-redis"}, first
        assert second == {"postgres", "app-redis"}, second
        for image in ("confluentinc/cp-kafka:7.6.0", "dpage/pgadmin4:8"):  # never pulled
            assert subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0
    finally:
        for project in projects:
            assert_no_leaks(project)


def test_plain_compose_up_brings_the_chosen_services_dependencies(tmp_path: Path) -> None:
    """Without a health gate `compose up NAME` starts NAME's dependencies itself (no --no-deps);
    `--service` replaces `start` (which alone would start postgres only)."""
    root = _project_dir(tmp_path, start=["postgres"], gate="postgres: {condition: service_started}")
    project = f"devc-{secrets.token_hex(4)}"
    try:
        with services_created(project) as created:
            result = run_cli(
                ["integration-run", "--json", "--project", project, "--service", "app-redis"], root
            )
        assert result.returncode == 0, result.output
        data = result.json()
        assert "2 passed" in next(p["detail"] for p in data["phases"] if p["name"] == "test")
        assert "kafka: readiness check skipped: not started" in result.output, result.output
        assert created == {"postgres", "app-redis"}, created
        up = next(p for p in data["phases"] if p["name"] == "up")
        assert "dependency order" not in up["detail"], up
    finally:
        assert_no_leaks(project)


def test_unknown_service_is_a_config_error_before_anything_starts(tmp_path: Path) -> None:
    root = _project_dir(tmp_path, start=["app-rediss"])
    project = f"devc-{secrets.token_hex(4)}"
    with services_created(project) as created:
        result = run_cli(["integration-run", "--project", project], root)
        by_option = run_cli(["integration-run", "--project", project, "--service", "kafak"], root)
    assert result.returncode == 2, result.output
    assert "start: no such service in" in result.output and "compose.yaml" in result.output
    assert "'app-rediss' (did you mean 'app-redis'?)" in result.output, result.output
    assert by_option.returncode == 2, by_option.output
    assert "'kafak' (did you mean 'kafka'?)" in by_option.output, by_option.output
    assert created == set() and leaked_resources(project) == {"containers": [], "networks": [], "volumes": []}


def test_an_export_of_a_service_left_out_is_a_config_error(tmp_path: Path) -> None:
    root = _project_dir(tmp_path, start=["app-redis"])
    result = run_cli(["integration-run", "--service", "postgres"], root)
    assert result.returncode == 2, result.output
    assert "export.REDIS_URL: {app-redis.host} needs service app-redis" in result.output, result.output
    assert "--service app-redis" in result.output


def test_the_stack_key_follows_the_selection_and_the_port_mode(tmp_path: Path) -> None:
    """The identity (a lease's, a snapshot's) is that of the stack as it runs: the selection and
    the port mode change it, and no image of a service left out is pulled to compute it."""
    root = _project_dir(tmp_path, start=["app-redis"], exports=("DATABASE_URL",))

    def key(config_edit: tuple[str, str] = ("", "")) -> str:
        config = root / "ci-toolkit.toml"
        original = config.read_text()
        config.write_text(original.replace(*config_edit) if config_edit[0] else original)
        try:
            result = run_cli(["snapshot", "key", "--json"], root)
        finally:
            config.write_text(original)
        assert result.returncode == 0, result.output
        assert "could not pull" not in result.output, result.output
        return str(result.json()["key"])

    chosen = key()
    assert key(('start = ["app-redis"]', 'start = ["app-redis", "postgres"]')) == chosen  # the same stack
    assert key(('ports = "dynamic"', 'ports = "as-written"')) != chosen
    assert key(('start = ["app-redis"]', 'start = ["postgres"]')) != chosen


def test_stack_up_with_service_starts_that_and_its_dependencies(tmp_path: Path) -> None:
    root = _project_dir(tmp_path, exports=("DATABASE_URL",))  # no `start`: the option alone chooses
    project = f"devc-{secrets.token_hex(4)}"
    try:
        with services_created(project) as created:
            up = run_cli(["stack", "up", "--project", project, "--service", "app-redis"], root)
            assert up.returncode == 0, up.output
            ports = subprocess.run(
                ["docker", "ps", "--filter", f"label={PROJECT_LABEL}={project}", "--format", "{{.Ports}}"],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            down = run_cli(["stack", "down"], root)
            assert down.returncode == 0, down.output
        assert created == {"postgres", "app-redis"}, created
        assert "127.0.0.1:" in ports and "25432" not in ports and "26379" not in ports, ports
    finally:
        assert_no_leaks(project)
