"""Who owns a stack: the PID namespace and boot id in the owner labels, and what prune makes of
them (and of labels from older versions without them). Real processes, no engine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from ci_toolkit.stack import compose, ownership, prune


def _live_child() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])


def _dead_pid() -> tuple[int, int]:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = compose.process_start_ticks(child.pid) or 1
    child.wait()
    return child.pid, started


def _stack(pid: int, start: int, *, age_hours: float = 0.1, keep: bool = False) -> prune.OwnedStack:
    return prune.OwnedStack(
        "citk-x-1",
        "1",
        pid,
        start,
        socket.gethostname(),
        time.time() - age_hours * 3600,
        keep,
        ownership.pid_namespace(),
        ownership.boot_id(),
    )


def test_owner_labels_record_the_pid_namespace_and_boot_id() -> None:
    labels = compose.owner_labels("abcd", keep=False)
    namespace = os.readlink("/proc/self/ns/pid")  # e.g. pid:[4026531836]
    assert labels["io.ci-toolkit.owner-pidns"] == namespace.removeprefix("pid:[").removesuffix("]")
    assert labels["io.ci-toolkit.owner-boot"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert labels["io.ci-toolkit.owner-pid"] == str(os.getpid())


def test_a_dead_owner_in_this_namespace_is_pruned() -> None:
    pid, started = _dead_pid()
    decision = prune.decide(_stack(pid, started), ttl_hours=24)
    assert decision.stale is True and f"owner process {pid} is gone" in decision.reason


def test_an_owner_in_another_pid_namespace_goes_only_by_ttl() -> None:
    """Its pid means nothing here: dead-looking or reused, the stack stays until the TTL."""
    pid, started = _dead_pid()
    elsewhere = replace(_stack(pid, started), pid_namespace="4026532999")
    decision = prune.decide(elsewhere, ttl_hours=24)
    assert decision.stale is False
    assert decision.reason == (
        f"owner process {pid} is in another PID namespace (4026532999); removed only by TTL"
    )
    old = prune.decide(replace(elsewhere, started_at=time.time() - 30 * 3600), ttl_hours=24)
    assert old.stale is True and "older than 24h" in old.reason


def test_an_owner_of_another_boot_goes_only_by_ttl() -> None:
    pid, started = _dead_pid()
    decision = prune.decide(replace(_stack(pid, started), boot_id="00000000-another-boot"), ttl_hours=24)
    assert decision.stale is False and "another boot of host" in decision.reason


def test_a_live_owner_in_another_namespace_whose_pid_matches_something_here_is_kept() -> None:
    """A pid that happens to be alive here says nothing either way: TTL only, never "running"."""
    child = _live_child()
    try:
        started = compose.process_start_ticks(child.pid) or 0
        decision = prune.decide(replace(_stack(child.pid, started), pid_namespace="1"), ttl_hours=24)
        assert decision.stale is False and "another PID namespace" in decision.reason
    finally:
        child.kill()
        child.wait()


def test_labels_of_an_older_version_keep_a_stack_whose_owner_is_not_found() -> None:
    """Older labels do not say where the pid lives: a missing owner may be live in another
    namespace, so only the TTL removes the stack."""
    pid, started = _dead_pid()
    older = replace(_stack(pid, started), pid_namespace=None, boot_id=None)
    decision = prune.decide(older, ttl_hours=24)
    assert decision.stale is False
    assert "older ci-toolkit" in decision.reason and decision.reason.endswith("removed only by TTL")
    assert prune.decide(replace(older, started_at=time.time() - 30 * 3600), ttl_hours=24).stale is True


def test_labels_of_an_older_version_with_a_running_owner_are_kept_however_old() -> None:
    child = _live_child()
    try:
        started = compose.process_start_ticks(child.pid) or 0
        older = replace(_stack(child.pid, started, age_hours=50), pid_namespace=None, boot_id=None)
        decision = prune.decide(older, ttl_hours=24)
        assert decision.stale is False and decision.reason == f"owner process {child.pid} is running"
    finally:
        child.kill()
        child.wait()


def test_prune_json_names_the_namespace_and_boot() -> None:
    data = prune.PruneDecision(_stack(1, 1), False, "x").to_dict()
    assert data["pid_namespace"] == ownership.pid_namespace() and data["boot_id"] == ownership.boot_id()


def test_a_project_is_foreign_only_with_resources_none_of_them_labelled() -> None:
    fresh = ownership.Inventory("p", {"containers": []}, {"containers": []})
    assert fresh.empty and not fresh.foreign
    theirs = ownership.Inventory("p", {"volumes": []}, {"volumes": ["p_data"]})
    assert theirs.foreign
    # A ci-toolkit stack with a container started into it by hand: ours, removed whole.
    ours = ownership.Inventory("p", {"containers": ["p-db-1"]}, {"containers": ["p-stray"]})
    assert not ours.foreign
