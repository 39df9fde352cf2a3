"""The protocol probes against real services (failure cases live in tests/faults/)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

# One attempt each against services `stack up` already waited for: this bounds a hung attempt,
# it is not how long an answer takes (milliseconds), so a loaded machine has all the room it needs.
ATTEMPT = 30.0


def test_probes_speak_each_protocol(example_project: Path) -> None:
    """The probes against live services, and against the wrong service (a port mix-up)."""
    from ci_toolkit.config import ServiceCheck
    from ci_toolkit.stack.engine import Engine
    from ci_toolkit.stack.probes import NotReady, probe

    project = f"pr-{secrets.token_hex(4)}"
    up = run_cli(["stack", "up", "--project", project], example_project)
    try:
        assert up.returncode == 0, up.output
        containers = {c.service: c for c in Engine.connect().containers(project)}
        ports = {name: dict(c.ports) for name, c in containers.items()}
        checks = {
            "postgres": ServiceCheck(
                "postgres", "postgres", 5432, 5, user="test", password="test", database="app"
            ),
            "redis": ServiceCheck("redis", "redis", 6379, 5),
            "nats": ServiceCheck("nats", "nats", 4222, 5, jetstream=True, monitor_port=8222),
        }
        for name, check in checks.items():
            probe(check, "127.0.0.1", ports[name], ATTEMPT)
        # The NATS monitoring endpoint answers HTTP and TCP probes too.
        probe(ServiceCheck("nats", "http", 8222, 5, path="/healthz"), "127.0.0.1", ports["nats"], ATTEMPT)
        probe(ServiceCheck("redis", "tcp", 6379, 5), "127.0.0.1", ports["redis"], ATTEMPT)
        with pytest.raises(NotReady, match="redis answered"):
            probe(checks["redis"], "127.0.0.1", {6379: ports["nats"][4222]}, ATTEMPT)
        with pytest.raises(NotReady, match="answered 404"):
            probe(ServiceCheck("nats", "http", 8222, 5, path="/nope"), "127.0.0.1", ports["nats"], ATTEMPT)
    finally:
        run_cli(["stack", "down", "--project", project], example_project)
    assert_no_leaks(project)
