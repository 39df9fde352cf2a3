"""Find and remove stacks that no live ci-toolkit run owns any more.

Every container, network and volume of a run carries owner labels (run id, pid, host,
start time, keep). A stack is stale when its owner process on this host is gone (SIGKILL,
OOM, a crashed runner), or when it is older than the TTL. Kept stacks (`stack up`,
`--keep`) outlive their process by design, so only the TTL removes them. A live run's
stack is never touched.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ci_toolkit.stack import compose
from ci_toolkit.stack.engine import PROJECT_LABEL, Engine, remove_leftovers

RUN_LABEL = "io.ci-toolkit.run-id"
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "run_id": self.run_id,
            "pid": self.pid,
            "host": self.host,
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
                pid=int(labels.get("io.ci-toolkit.owner-pid", "0")),
                pid_start=int(labels.get("io.ci-toolkit.owner-start", "0")),
                host=labels.get("io.ci-toolkit.owner-host", ""),
                started_at=float(labels.get("io.ci-toolkit.started-at", "0")),
                keep=labels.get("io.ci-toolkit.keep") == "true",
            )
        except ValueError:
            continue  # labels written by hand; not ours to judge
    return sorted(stacks.values(), key=lambda s: s.started_at)


def decide(stack: OwnedStack, ttl_hours: float, now: float | None = None) -> PruneDecision:
    age_hours = ((now or time.time()) - stack.started_at) / 3600
    local = stack.host == socket.gethostname()
    if local and not stack.keep:
        # A run on this host: its owner decides, whatever its age (a 48 h soak is still live).
        if owner_alive(stack.pid, stack.pid_start):
            return PruneDecision(stack, False, f"owner process {stack.pid} is running")
        return PruneDecision(stack, True, f"owner process {stack.pid} is gone")
    if age_hours > ttl_hours:
        return PruneDecision(stack, True, f"older than {ttl_hours:g}h ({age_hours:.1f}h)")
    why = "kept on purpose (stack up / --keep)" if stack.keep else f"owned by host {stack.host}"
    return PruneDecision(stack, False, f"{why}; removed only by TTL")


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
    engine: Engine, ttl_hours: float = DEFAULT_TTL_HOURS, *, dry_run: bool = False, exclude: str | None = None
) -> list[PruneDecision]:
    decisions = [decide(s, ttl_hours) for s in owned_stacks(engine) if s.project != exclude]
    if not dry_run:
        for i, decision in enumerate(decisions):
            if decision.stale:
                try:
                    remove(engine, decision.stack.project)
                except Exception as exc:  # one stubborn stack must not stop the sweep, nor the run
                    decisions[i] = replace(decision, reason=f"{decision.reason}; removal failed: {exc}")
    return decisions


def remove(engine: Engine, project: str) -> None:
    stack = compose.Stack(project, (), workdir=Path("/"))  # no compose file needed to remove a project
    try:
        compose.down(stack, timeout=120)
    finally:
        remove_leftovers(engine, project)


def _labelled(engine: Engine) -> list[dict[str, Any]]:
    flt = {"label": RUN_LABEL}
    items: list[dict[str, Any]] = list(engine.api.containers(all=True, filters=flt))
    items += engine.api.networks(filters=flt)
    items += engine.api.volumes(filters=flt).get("Volumes") or []
    return items
