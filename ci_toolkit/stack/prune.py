"""Find and remove stacks that no live ci-toolkit run owns any more.

Every container, network and volume of a run carries owner labels (run id, pid and its start
time, host, PID namespace, boot id, start time, keep; see `ownership`). A stack is stale when
its owner process is gone (SIGKILL, OOM, a crashed runner) — judged only when the owner ran on
this host, in this PID namespace, since this boot, where its pid means what it says — or when
it is older than the TTL. Kept stacks (`stack up`, `--keep`) outlive their process by design,
so only the TTL removes them. A live run's stack is never touched, and only resources that
carry ci-toolkit's labels are ever removed.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ci_toolkit.stack import compose, ownership
from ci_toolkit.stack.engine import PROJECT_LABEL, Engine

RUN_LABEL = ownership.RUN_LABEL
DEFAULT_TTL_HOURS = 24.0


@dataclass(frozen=True)
class OwnedStack:
    project: str
    run_id: str
    pid: int
    pid_start: int  # the owner's start time in clock ticks since boot; 0 if unknown
    host: str
    started_at: float
    keep: bool
    # None: the labels come from an older ci-toolkit that did not record them.
    pid_namespace: str | None = None
    boot_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "run_id": self.run_id,
            "pid": self.pid,
            "host": self.host,
            "pid_namespace": self.pid_namespace,
            "boot_id": self.boot_id,
            "started_at": self.started_at,
            "keep": self.keep,
        }


@dataclass(frozen=True)
class PruneDecision:
    stack: OwnedStack
    stale: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.stack.to_dict(), "stale": self.stale, "reason": self.reason}


def owned_stacks(engine: Engine) -> list[OwnedStack]:
    """One entry per compose project that carries ci-toolkit owner labels."""
    stacks: dict[str, OwnedStack] = {}
    for item in _labelled(engine):
        labels = item.get("Labels") or {}
        project = labels.get(PROJECT_LABEL)
        if not project or project in stacks:
            continue
        try:
            stacks[project] = OwnedStack(
                project=project,
                run_id=labels.get(RUN_LABEL, ""),
                pid=int(labels.get(ownership.PID_LABEL, "0")),
                pid_start=int(labels.get(ownership.START_LABEL, "0")),
                host=labels.get(ownership.HOST_LABEL, ""),
                started_at=float(labels.get(ownership.STARTED_AT_LABEL, "0")),
                keep=labels.get(ownership.KEEP_LABEL) == "true",
                pid_namespace=labels.get(ownership.PID_NAMESPACE_LABEL),
                boot_id=labels.get(ownership.BOOT_LABEL),
            )
        except ValueError:
            continue  # labels written by hand; not ours to judge
    return sorted(stacks.values(), key=lambda s: s.started_at)


# A lease (`--reuse`) as the caller knows it: when it was last used, and whether a run holds it now.
LeaseActivity = tuple[float, bool]


def decide(
    stack: OwnedStack, ttl_hours: float, now: float | None = None, lease: LeaseActivity | None = None
) -> PruneDecision:
    if lease is not None:  # kept between runs on purpose: judged by how long it has been idle
        last_used, held = lease
        idle_hours = ((now or time.time()) - (last_used or stack.started_at)) / 3600
        if held:
            return PruneDecision(stack, False, "a lease held by a running integration-run")
        if idle_hours > ttl_hours:
            return PruneDecision(stack, True, f"a lease idle for {idle_hours:.1f}h (TTL {ttl_hours:g}h)")
        return PruneDecision(
            stack, False, f"a lease, idle {idle_hours:.1f}h; removed once idle past {ttl_hours:g}h"
        )
    age_hours = ((now or time.time()) - stack.started_at) / 3600
    elsewhere = _elsewhere(stack)
    if not stack.keep:
        if elsewhere is None:
            # Its owner's pid means what it says here: the owner decides, whatever its age
            # (a 48 h soak is still live).
            if owner_alive(stack.pid, stack.pid_start):
                return PruneDecision(stack, False, f"owner process {stack.pid} is running")
            return PruneDecision(stack, True, f"owner process {stack.pid} is gone")
        if elsewhere == _OLDER_LABELS and owner_alive(stack.pid, stack.pid_start):
            # Found alive with the recorded start time: the owner, however old the stack.
            return PruneDecision(stack, False, f"owner process {stack.pid} is running")
    if age_hours > ttl_hours:
        return PruneDecision(stack, True, f"older than {ttl_hours:g}h ({age_hours:.1f}h)")
    why = "kept on purpose (stack up / --keep)" if stack.keep else elsewhere
    return PruneDecision(stack, False, f"{why}; removed only by TTL")


_OLDER_LABELS = (
    "labelled by an older ci-toolkit without the owner's PID namespace and boot id, "
    "and its owner process is not running here"
)


def _elsewhere(stack: OwnedStack) -> str | None:
    """Why the owner's pid cannot be judged from here; None when it can.

    An owner on another host, in another PID namespace (a runner in a container that shares
    the docker socket and the hostname) or on another boot (pids restart; or another machine
    with the same name) is treated alike: only the TTL removes its stack. Labels from an older
    ci-toolkit do not say where the pid lives: a pid that is running with the recorded start
    time is the owner, anything else could be a live run elsewhere, so TTL only.
    """
    if stack.host != socket.gethostname():
        return f"owned by host {stack.host}"
    if stack.pid_namespace is None or stack.boot_id is None:
        return _OLDER_LABELS
    if stack.boot_id != ownership.boot_id():
        return f"owned by another boot of host {stack.host} (or another machine of that name)"
    if stack.pid_namespace != ownership.pid_namespace():
        return f"owner process {stack.pid} is in another PID namespace ({stack.pid_namespace})"
    return None


def owner_alive(pid: int, start_ticks: int = 0) -> bool:
    """Is the process that started the stack still running?

    A pid alone is not enough: after the owner dies the pid may be reused by anything. The
    owner's start time (recorded in the labels) tells the two apart. Without a recorded start
    time, a running pid counts as the owner: never remove a stack that may be live.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    if start_ticks <= 0:
        return True
    current = compose.process_start_ticks(pid)
    return current is None or current == start_ticks


def prune(
    engine: Engine,
    ttl_hours: float = DEFAULT_TTL_HOURS,
    *,
    dry_run: bool = False,
    exclude: str | None = None,
    leases: Mapping[str, LeaseActivity] | None = None,
) -> list[PruneDecision]:
    """`leases`: project -> activity for the stacks that are leases (`reuse.lease.activity()`)."""
    leases = leases or {}
    decisions = [
        decide(s, ttl_hours, lease=leases.get(s.project))
        for s in owned_stacks(engine)
        if s.project != exclude
    ]
    if not dry_run:
        for i, decision in enumerate(decisions):
            if decision.stale:
                try:
                    remove(engine, decision.stack.project)
                except Exception as exc:  # one stubborn stack must not stop the sweep, nor the run
                    decisions[i] = replace(decision, reason=f"{decision.reason}; removal failed: {exc}")
    return decisions


def remove(engine: Engine, project: str) -> None:
    """Remove a stale stack: only what carries ci-toolkit's labels, never a container or volume
    that someone else put into the same compose project (no `compose down`, which takes all)."""
    ownership.remove_labelled(engine, project)


def _labelled(engine: Engine) -> list[dict[str, Any]]:
    flt = {"label": RUN_LABEL}
    items: list[dict[str, Any]] = list(engine.api.containers(all=True, filters=flt))
    items += engine.api.networks(filters=flt)
    items += engine.api.volumes(filters=flt).get("Volumes") or []
    return items
