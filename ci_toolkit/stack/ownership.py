"""Whose is a compose project: the owner labels ci-toolkit writes, and the refusal to touch others'.

Every container, network and volume ci-toolkit creates carries `io.ci-toolkit.*` labels (see
`compose.owner_labels`). The owner's identity is its pid and process start time, its host,
and — since a pid means something only inside one PID namespace of one running kernel — its
PID namespace and boot id.

A compose project name is a namespace that anyone on the engine can use. `--project NAME`
naming a project that someone else created (plain `docker compose -p NAME up`) must not make
ci-toolkit's `up --remove-orphans`, `down --volumes` or leftover removal delete it:
`refuse_foreign` stops before anything is touched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_toolkit.errors import InfrastructureError, UsageError
from ci_toolkit.stack.engine import PROJECT_LABEL, Engine, connection_lost, lost

RUN_LABEL = "io.ci-toolkit.run-id"  # on everything ci-toolkit creates, in every version
PID_LABEL = "io.ci-toolkit.owner-pid"
START_LABEL = "io.ci-toolkit.owner-start"
HOST_LABEL = "io.ci-toolkit.owner-host"
# Both absent on stacks labelled by older ci-toolkit versions (see prune.decide).
PID_NAMESPACE_LABEL = "io.ci-toolkit.owner-pidns"
BOOT_LABEL = "io.ci-toolkit.owner-boot"
STARTED_AT_LABEL = "io.ci-toolkit.started-at"
KEEP_LABEL = "io.ci-toolkit.keep"

KINDS = ("containers", "networks", "volumes")


def pid_namespace() -> str:
    """This process's PID namespace (the inode of /proc/self/ns/pid); "" where there is none (macOS).

    A pid (and its start time) identifies a process only inside one PID namespace.
    """
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def boot_id() -> str:
    """The running kernel's boot id; "" where there is none. Pids and start times restart at boot,
    and two machines with one hostname (a remote DOCKER_HOST) have different boot ids."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


@dataclass(frozen=True)
class Inventory:
    """A compose project's resources on the engine, split by whether ci-toolkit labelled them."""

    project: str
    labelled: dict[str, list[str]] = field(default_factory=dict)  # kind -> names
    unlabelled: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.labelled.values()) and not any(self.unlabelled.values())

    @property
    def foreign(self) -> bool:
        """Resources, none of them created by ci-toolkit: someone else's project.

        One labelled resource makes the project ci-toolkit's: a stack it created (a kept
        `stack up`, a `--keep` run, a crashed run), with whatever else carries its project
        label (a container started by hand into it) removed with it.
        """
        return not self.empty and not any(self.labelled.values())


def inventory(engine: Engine, project: str) -> Inventory:
    try:
        listed = _listed(engine, {"label": f"{PROJECT_LABEL}={project}"})
    except Exception as exc:
        if connection_lost(exc):
            raise lost(exc) from None
        raise
    labelled: dict[str, list[str]] = {kind: [] for kind in KINDS}
    unlabelled: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for kind, items in listed.items():
        for item in items:
            side = labelled if RUN_LABEL in (item.get("Labels") or {}) else unlabelled
            side[kind].append(_name(kind, item))
    return Inventory(project, labelled, unlabelled)


def refuse_foreign(engine: Engine, project: str) -> None:
    """UsageError (exit 2) if `project` has resources on the engine and none carries ci-toolkit's
    owner labels. A project with no resources at all (a fresh name) is fine."""
    found = inventory(engine, project)
    if not found.foreign:
        return
    what = ", ".join(
        f"{len(names)} {kind[:-1] if len(names) == 1 else kind} ({', '.join(sorted(names)[:5])}"
        f"{', …' if len(names) > 5 else ''})"
        for kind, names in found.unlabelled.items()
        if names
    )
    raise UsageError(
        f"compose project {project} was not created by ci-toolkit: it has {what} without "
        "ci-toolkit's owner labels (io.ci-toolkit.*), so ci-toolkit will not start, stop or remove "
        "anything in it (compose's --remove-orphans and down --volumes would delete them)",
        hint=f"choose another --project name, or leave --project out for a generated one; if {project} "
        f"is yours to delete, remove it yourself (`docker compose -p {project} down --volumes`)",
    )


def remove_labelled(engine: Engine, project: str) -> dict[str, list[str]]:
    """Remove the project's resources that carry ci-toolkit's labels, and nothing else: what
    `stack prune` and the pre-run sweep delete. Containers go first (force, with their anonymous
    volumes), then networks, then volumes; every one is tried, and what failed is raised at the
    end (a network still used by someone else's container, say)."""
    import docker.errors

    listed = _listed(engine, {"label": [f"{PROJECT_LABEL}={project}", RUN_LABEL]})
    removals = [
        *((engine.api.remove_container, c["Id"], {"force": True, "v": True}) for c in listed["containers"]),
        *((engine.api.remove_network, n["Id"], {}) for n in listed["networks"]),
        *((engine.api.remove_volume, v["Name"], {"force": True}) for v in listed["volumes"]),
    ]
    failed: list[str] = []
    for remove, ident, kwargs in removals:
        try:
            remove(ident, **kwargs)
        except docker.errors.NotFound:
            continue  # a concurrent sweep removed it first: the goal is reached
        except docker.errors.APIError as exc:
            if "already in progress" not in str(exc):  # ... or is removing it right now
                failed.append(f"{ident[:12]}: {exc.explanation or exc}")
    if failed:
        raise InfrastructureError(f"could not remove part of stack {project}: {'; '.join(failed)}")
    return {kind: [_name(kind, item) for item in items] for kind, items in listed.items()}


def _listed(engine: Engine, filters: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return {
        "containers": list(engine.api.containers(all=True, filters=filters)),
        "networks": list(engine.api.networks(filters=filters)),
        "volumes": list(engine.api.volumes(filters=filters).get("Volumes") or []),
    }


def _name(kind: str, item: dict[str, Any]) -> str:
    if kind == "containers":
        names = item.get("Names") or [item.get("Id", "")[:12]]
        return str(names[0]).lstrip("/")
    return str(item.get("Name") or item.get("Id", "")[:12])
