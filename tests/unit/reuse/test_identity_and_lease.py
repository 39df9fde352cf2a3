"""A stack's identity names what changed (never a value), and a lease is held by one run at a time."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ci_toolkit.reuse import identity, lease
from ci_toolkit.reuse.identity import Identity
from ci_toolkit.reuse.lease import LeaseRecord
from ci_toolkit.stack import prune


def make(**changes: object) -> Identity:
    parts: dict[str, object] = {
        "compose": "c1",
        "images": {"postgres:15": "sha256:aaaaaaaaaaaaaaaa", "redis:7": "sha256:bbbbbbbbbbbb"},
        "migrations": (("001_a.sql", "x1"), ("002_b.sql", "x2")),
        "env": {"A": "d1", "PASSWORD": "d2"},
        "env_digest": "e1",
        "salt": "s",
    }
    parts.update(changes)
    return Identity(**parts)  # type: ignore[arg-type]


def test_each_part_that_changed_is_named() -> None:
    old = make()
    assert make().changes(old) == [] and make().key == old.key
    new = make(
        compose="c2",
        images={"postgres:15": "sha256:cccccccccccccccc", "redis:7": "sha256:bbbbbbbbbbbb"},
        migrations=(("001_a.sql", "x1"), ("002_b.sql", "CHANGED"), ("003_c.sql", "x3")),
        env={"A": "d1", "PASSWORD": "other"},
        env_digest="e2",
    )
    assert new.changes(old) == [
        "the compose model (a compose file, or a variable it interpolates, changed)",
        "image postgres:15 is now cccccccccccc (was aaaaaaaaaaaa)",
        "migration 003_c.sql added",
        "migration 002_b.sql changed",
        "environment: PASSWORD",
    ]
    assert new.key != old.key


def test_the_snapshot_key_leaves_migrations_out_and_prefixes_the_full_key() -> None:
    old, new = make(), make(migrations=(("001_a.sql", "x1"),))
    assert old.base_key == new.base_key and old.key != new.key
    assert old.key.startswith(f"{identity.KEY_PREFIX}-{old.base_key}-")


def test_values_never_appear_in_the_identity() -> None:
    class NoEngine:
        class api:
            pass

    model = {"name": "p1", "services": {}}
    ident = identity.compute(
        model,
        NoEngine(),  # type: ignore[arg-type]
        [],
        {"PGPASSWORD": "hunter2-very-secret"},
        config={},
        salt="s",
    )
    assert "hunter2" not in str(ident.to_dict())
    other = identity.compute(
        {**model, "name": "p2"},
        NoEngine(),  # type: ignore[arg-type]
        [],
        {"PGPASSWORD": "x"},
        config={},
        salt="s",
    )
    assert other.compose == ident.compose  # the project name is not part of the stack
    assert other.changes(ident) == ["environment: PGPASSWORD"]


def test_one_holder_at_a_time_and_a_dead_holder_frees_it(state_dir: Path) -> None:
    held = lease.acquire("citk-x-lease-1")
    assert held is not None and lease.holder("citk-x-lease-1") == os.getpid()
    assert lease.acquire("citk-x-lease-1") is None  # flock is per open file: a second open is refused
    held.release()
    assert lease.holder("citk-x-lease-1") is None
    # A holder that dies (SIGKILL) frees the lease: the kernel drops its lock.
    code = (
        "import os, sys, time; from ci_toolkit.reuse import lease; "
        "h = lease.acquire('citk-x-lease-1'); print('held', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    assert lease.holder("citk-x-lease-1") == child.pid and lease.acquire("citk-x-lease-1") is None
    child.kill()
    child.wait()
    again = lease.acquire("citk-x-lease-1")
    assert again is not None
    again.release()


def test_records_round_trip_and_are_listed(state_dir: Path) -> None:
    held = lease.acquire("citk-y-lease-2")
    assert held is not None
    held.save(LeaseRecord("citk-y-lease-2", "/src/y", make(), {"postgres": {}}, created=1.0, last_used=2.0))
    held.release()
    [info] = lease.listing()
    assert info.record is not None and info.record.identity.key == make().key
    assert info.to_dict()["ready"] is True and info.holder is None
    assert lease.activity() == {"citk-y-lease-2": (2.0, False)}
    lease.drop("citk-y-lease-2")
    assert lease.listing() == []


def test_prune_judges_a_lease_by_idle_time_and_never_a_held_one() -> None:
    stack = prune.OwnedStack("citk-z-lease-3", "r", 999999, 0, "h", time.time() - 90 * 3600, True)
    now = time.time()
    assert prune.decide(stack, 24, now, lease=(now - 3600, False)).stale is False
    idle = prune.decide(stack, 24, now, lease=(now - 30 * 3600, False))
    assert idle.stale and "idle for 30.0h" in idle.reason
    held = prune.decide(stack, 0, now, lease=(now - 30 * 3600, True))
    assert not held.stale and held.reason == "a lease held by a running integration-run"
