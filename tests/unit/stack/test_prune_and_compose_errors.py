"""Prune decisions and the translation of compose failures, without an engine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from ci_toolkit.errors import CommandError
from ci_toolkit.stack import compose, compose_errors, ownership, prune

HOST = socket.gethostname()


def stack(
    pid: int, *, keep: bool = False, host: str = HOST, age_hours: float = 0.1, start: int = 0
) -> prune.OwnedStack:
    """A stack owned from this host, PID namespace and boot (what this process labels)."""
    started_at = time.time() - age_hours * 3600
    return prune.OwnedStack(
        "citk-x-1", "1", pid, start, host, started_at, keep, ownership.pid_namespace(), ownership.boot_id()
    )


def test_live_owner_is_never_pruned_whatever_its_command_line() -> None:
    # An in-process driver of the pipeline (a script, a benchmark) owns its stack too.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = compose.process_start_ticks(child.pid)
        assert started
        decision = prune.decide(stack(child.pid, start=started), ttl_hours=24)
        assert decision.stale is False and "is running" in decision.reason
    finally:
        child.kill()
        child.wait()


def test_dead_owner_is_pruned() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = compose.process_start_ticks(child.pid) or 1
    child.wait()
    decision = prune.decide(stack(child.pid, start=started), ttl_hours=24)
    assert decision.stale is True and f"owner process {child.pid} is gone" in decision.reason


def test_reused_pid_counts_as_gone() -> None:
    """The pid is alive but started at another time than the owner did: a different process."""
    child = subprocess.Popen(["sleep", "30"])
    try:
        started = compose.process_start_ticks(child.pid)
        assert started
        assert prune.decide(stack(child.pid, start=started - 100), ttl_hours=24).stale is True
        assert prune.decide(stack(child.pid, start=started), ttl_hours=24).stale is False
    finally:
        child.kill()
        child.wait()


def test_start_time_is_read_even_with_spaces_in_the_command_name(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "odd name) x"
    script.write_text("#!/bin/sh\nsleep 30\n")
    script.chmod(0o755)
    child = subprocess.Popen([str(script)])
    try:
        assert compose.process_start_ticks(child.pid) == compose.process_start_ticks(child.pid)
        assert (compose.process_start_ticks(child.pid) or 0) > 0
    finally:
        child.kill()
        child.wait()


def test_a_live_local_run_is_never_pruned_however_old() -> None:
    """A 48 h soak is still a live run: age alone never removes a stack whose owner runs."""
    started = compose.process_start_ticks(os.getpid())
    decision = prune.decide(stack(os.getpid(), start=started or 0, age_hours=50), ttl_hours=24)
    assert decision.stale is False and "is running" in decision.reason


def test_kept_and_foreign_stacks_go_only_by_ttl() -> None:
    assert prune.decide(stack(999999, keep=True), ttl_hours=24).stale is False
    assert prune.decide(stack(999999, host="elsewhere"), ttl_hours=24).stale is False
    old = prune.decide(stack(999999, keep=True, age_hours=30), ttl_hours=24)
    assert old.stale is True and "older than 24h" in old.reason


def _up_error(stderr: str) -> str:
    exc = CommandError(["docker", "compose", "up"], 1, "", stderr)
    return str(compose_errors.explain_up_failure("p", exc, {"web": "acme/web:9"}))


def test_port_clash_message() -> None:
    text = _up_error(
        "Error response from daemon: driver failed programming external connectivity on endpoint "
        "p-web-1: Bind for 127.0.0.1:8080 failed: port is already allocated"
    )
    assert "host port 127.0.0.1:8080 is already in use" in text and '"127.0.0.1::PORT"' in text


def test_pull_failure_names_image_and_service() -> None:
    text = _up_error(
        ' web Error Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: '
        "no such host\nError response from daemon: Get ...: no such host"
    )
    assert "could not pull acme/web:9 for service web" in text


def test_owner_override_labels_services_networks_and_volumes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    model = {
        "services": {"db": {}},
        "networks": {"default": {}, "ext": {"external": True}},
        "volumes": {"data": {}},
    }
    labels = compose.owner_labels("abcd", keep=True)
    path = compose.write_owner_override(tmp_path / "o.json", model, labels)
    data = json.loads(path.read_text())
    assert data["services"]["db"]["labels"]["io.ci-toolkit.keep"] == "true"
    assert data["networks"] == {"default": {"labels": labels}}  # external networks are not ours
    assert data["volumes"]["data"]["labels"]["io.ci-toolkit.owner-pid"] == str(os.getpid())
