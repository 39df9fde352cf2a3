"""Readiness against real services: protocol probes, fail-fast on exit, timeouts."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]


def test_container_exiting_during_readiness_fails_fast_with_its_logs(example_project: Path) -> None:
    compose = example_project / "docker-compose.test.yml"
    # Redis refuses an unknown option and exits at once with code 1.
    compose.write_text(
        compose.read_text().replace(
            "image: redis:7\n", 'image: redis:7\n    command: ["redis-server", "--no-such-option", "1"]\n'
        )
    )
    project = f"rd-{secrets.token_hex(4)}"
    started = time.monotonic()
    result = run_cli(["integration-run", "--json", "--project", project], example_project)
    elapsed = time.monotonic() - started
    data = result.json()
    assert result.returncode == 4, result.output
    assert data["status"] == "infra_error"
    assert "service 'redis' failed" in data["message"] and "exited with code 1" in data["message"]
    assert "last log lines of redis" in data["message"]
    assert "no-such-option" in data["message"].lower() or "bad directive" in data["message"].lower()
    ready = next(p for p in data["phases"] if p["name"] == "ready")
    assert ready["status"] == "failed" and ready["seconds"] < 10  # not the 60 s service timeout
    assert elapsed < 60
    assert_no_leaks(project)


def test_service_that_never_answers_times_out_naming_it(example_project: Path) -> None:
    cfg = example_project / "ci-toolkit.toml"
    # A wrong password: postgres runs but the probe can never log in.
    cfg.write_text(
        cfg.read_text()
        .replace('password = "test"', 'password = "wrong"')
        .replace('kind = "postgres"\n', 'kind = "postgres"\ntimeout = 4\n')
    )
    project = f"rd-{secrets.token_hex(4)}"
    result = run_cli(["integration-run", "--json", "--project", project], example_project)
    data = result.json()
    assert result.returncode == 4, result.output
    assert "service 'postgres' not ready after" in data["message"]
    assert "password authentication failed" in data["message"]
    assert_no_leaks(project)


def test_probes_speak_each_protocol(example_project: Path) -> None:
    """The probes against live services, and against the wrong service (a port mix-up)."""
    from ci_toolkit.config import ServiceCheck
    from ci_toolkit.engine import Engine
    from ci_toolkit.probes import NotReady, probe

    project = f"pr-{secrets.token_hex(4)}"
    up = run_cli(["stack", "up", "--project", project], example_project)
    try:
        assert up.returncode == 0, up.output
        containers = {c.service: c for c in Engine.connect().containers(project)}
        ports = {name: {p: hp for p, (_, hp) in c.ports.items()} for name, c in containers.items()}
        checks = {
            "postgres": ServiceCheck(
                "postgres", "postgres", 5432, 5, user="test", password="test", database="app"
            ),
            "redis": ServiceCheck("redis", "redis", 6379, 5),
            "nats": ServiceCheck("nats", "nats", 4222, 5, jetstream=True, monitor_port=8222),
        }
        for name, check in checks.items():
            probe(check, "127.0.0.1", ports[name], 2.0)
        # The NATS monitoring endpoint answers HTTP and TCP probes too.
        probe(ServiceCheck("nats", "http", 8222, 5, path="/healthz"), "127.0.0.1", ports["nats"], 2.0)
        probe(ServiceCheck("redis", "tcp", 6379, 5), "127.0.0.1", ports["redis"], 2.0)
        with pytest.raises(NotReady, match="redis answered"):
            probe(checks["redis"], "127.0.0.1", {6379: ports["nats"][4222]}, 2.0)
        with pytest.raises(NotReady, match="answered 404"):
            probe(ServiceCheck("nats", "http", 8222, 5, path="/nope"), "127.0.0.1", ports["nats"], 2.0)
    finally:
        run_cli(["stack", "down", "--project", project], example_project)
    assert_no_leaks(project)
