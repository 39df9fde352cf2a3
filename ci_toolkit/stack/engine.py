"""The Docker engine, through the docker SDK: container state, published ports and logs.

Compose owns the lifecycle of a stack; this module only looks at what compose created,
found by compose's own `com.docker.compose.project` label.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from ci_toolkit.errors import CiToolkitError, EngineLost, InfrastructureError

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"

ENGINE_HINT = (
    "start the Docker engine (Docker Desktop, `sudo systemctl start docker`, or `colima start`) "
    "or point DOCKER_HOST at it; check with `docker info`"
)


@dataclass(frozen=True)
class ContainerState:
    id: str
    name: str
    service: str
    status: str  # created | running | restarting | exited | dead | paused
    exit_code: int
    health: str | None  # starting | healthy | unhealthy | None without a healthcheck
    restart_count: int
    # Where the container is reached from the host: the one shape of port data everywhere
    # (ServiceResult, templates.Endpoint): a host address and container port -> host port.
    host: str = "127.0.0.1"
    ports: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id[:12],
            "name": self.name,
            "service": self.service,
            "status": self.status,
            "exit_code": self.exit_code,
            "health": self.health,
            "restart_count": self.restart_count,
            "ports": {str(k): {"host": self.host, "port": v} for k, v in self.ports.items()},
        }


class Engine:
    """A thin wrapper over the SDK's low-level API client (one HTTP call per method)."""

    def __init__(self, api: Any) -> None:
        self.api = api

    @classmethod
    def connect(cls, timeout: float = 30.0) -> Engine:
        import docker  # heavy (~0.3 s): imported only when the engine is needed

        try:
            client = docker.from_env(timeout=int(timeout))
            client.ping()
        except docker.errors.DockerException as exc:
            where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
            raise InfrastructureError(
                f"cannot reach the Docker engine at {where}: {_reason(exc)}", hint=ENGINE_HINT
            ) from None
        return cls(client.api)

    def version(self) -> dict[str, Any]:
        return dict(self.api.version())

    def reachable(self, timeout: float = 2.0) -> bool:
        """Does the engine answer a ping right now (within `timeout` seconds)?"""
        previous = self.api.timeout
        try:
            self.api.timeout = timeout
            return bool(self.api.ping())
        except CiToolkitError:
            raise  # a signal (Interrupted) or a deadline raised while waiting: never swallowed
        except Exception:
            return False
        finally:
            self.api.timeout = previous

    def containers(self, project: str) -> list[ContainerState]:
        """The project's containers; `EngineLost` if the engine stopped answering."""
        import docker.errors

        try:
            listed = self.api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
            states = []
            for c in listed:
                try:
                    states.append(self.inspect(c["Id"]))
                except docker.errors.NotFound:
                    continue  # removed between the listing and the inspect (a teardown, a prune)
            return states
        except Exception as exc:
            if connection_lost(exc):
                raise lost(exc) from None
            raise

    def inspect(self, container_id: str) -> ContainerState:
        data = self.api.inspect_container(container_id)
        state = data["State"]
        ports: dict[int, int] = {}
        host = "127.0.0.1"
        for key, bindings in (data["NetworkSettings"].get("Ports") or {}).items():
            port, _, proto = key.partition("/")
            if proto == "tcp" and bindings:
                ip = bindings[0].get("HostIp") or "127.0.0.1"
                host = "127.0.0.1" if ip in ("0.0.0.0", "::", "") else ip
                ports[int(port)] = int(bindings[0]["HostPort"])
        return ContainerState(
            id=data["Id"],
            name=data["Name"].lstrip("/"),
            service=data["Config"]["Labels"].get(SERVICE_LABEL, ""),
            status=state["Status"],
            exit_code=int(state.get("ExitCode") or 0),
            health=(state.get("Health") or {}).get("Status"),
            restart_count=int(data.get("RestartCount") or 0),
            host=host,
            ports=ports,
        )

    def start(self, container_id: str) -> None:
        self.api.start(container_id)

    def run_healthcheck(self, container_id: str) -> tuple[int | None, str]:
        """Run the container's own healthcheck command now (as Docker would at its next
        interval); (exit code, output), or (None, why) when it has none or it cannot run."""
        test = ((self.api.inspect_container(container_id).get("Config") or {}).get("Healthcheck") or {}).get(
            "Test"
        ) or []
        if not test or test[0] == "NONE":
            return None, "no healthcheck"
        cmd = (
            ["/bin/sh", "-c", test[1]]
            if test[0] == "CMD-SHELL"
            else list(test[1:] if test[0] == "CMD" else test)
        )
        try:
            exec_id = self.api.exec_create(container_id, cmd, stdout=True, stderr=True)["Id"]
            output = self.api.exec_start(exec_id)
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        except CiToolkitError:
            raise  # a signal (Interrupted) or a deadline raised while waiting: never swallowed
        except Exception as exc:  # the container is still starting, or stopped meanwhile
            return None, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
        return (int(code) if code is not None else None), text

    def inspect_raw(self, container_id: str) -> dict[str, Any]:
        return dict(self.api.inspect_container(container_id))

    def logs(self, container_id: str, tail: int | str = "all") -> str:
        raw = self.api.logs(container_id, stdout=True, stderr=True, tail=tail, timestamps=False)
        return bytes(raw).decode(errors="replace")

    def env(self, container_id: str) -> dict[str, str]:
        """The container's configured environment (image defaults merged with compose's)."""
        pairs = (self.api.inspect_container(container_id).get("Config") or {}).get("Env") or []
        return dict(p.partition("=")[::2] for p in pairs)

    def pause(self, container_id: str) -> None:
        self.api.pause(container_id)

    def unpause(self, container_id: str) -> None:
        self.api.unpause(container_id)

    def get_archive(self, container_id: str, path: str) -> Generator[bytes, None, None]:
        """`path` as an uncompressed tar stream (owners, modes kept), its top entry named after
        the path's last component. Close it if not read to the end: until then the engine holds
        the container's lock (an `unpause` would wait for it)."""
        chunks, _stat = self.api.get_archive(container_id, path)
        return cast("Generator[bytes, None, None]", chunks)

    def put_archive(self, container_id: str, path: str, data: BinaryIO) -> None:
        """Extract a tar (plain or gzip) into the existing directory `path`. Without the API's
        `copyUIDGID` the engine keeps the owners in the tar headers (copyUIDGID would chown
        everything to the container's configured user)."""
        self.api.put_archive(container_id, path, data)

    def exists(self, container_id: str, path: str) -> bool:
        """Is there a file at `path` in the container (created, running or stopped)?"""
        import docker.errors

        try:
            chunks, _stat = self.api.get_archive(container_id, path)
        except docker.errors.NotFound:
            return False
        for _ in chunks:  # drain the (small) answer so the connection is reusable
            pass
        return True


def connection_lost(exc: BaseException) -> bool:
    """The engine stopped answering (stopped, restarting, socket gone) — not a request it refused."""
    import requests

    if isinstance(exc, requests.exceptions.ConnectionError):
        return True
    text = str(exc)
    return any(
        s in text for s in ("Connection aborted", "Connection refused", "Cannot connect to the Docker")
    )


def lost(exc: BaseException | None = None) -> EngineLost:
    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    why = f": {_reason(exc)}" if isinstance(exc, Exception) else ""
    return EngineLost(
        f"lost the connection to the Docker engine at {where} (it stopped or restarted){why}",
        hint="the service failures that follow are its consequence; ci-toolkit waits for the "
        "engine (timeouts.down) to remove the stack",
    )


def wait_until_reachable(
    engine: Engine, seconds: float, on_wait: Callable[[float], None], every: float = 5.0
) -> bool:
    """Poll the engine until it answers or `seconds` pass; `on_wait(elapsed)` every `every` s."""
    started = time.monotonic()
    said = 0.0
    while True:
        if engine.reachable(timeout=1.0):
            return True
        elapsed = time.monotonic() - started
        if elapsed >= seconds:
            return False
        if elapsed - said >= every or said == 0.0:
            on_wait(elapsed)
            said = elapsed or 1e-9
        time.sleep(0.25)


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "FileNotFoundError" in text or "No such file" in text:
        return "the socket does not exist (is the engine running?)"
    if "PermissionError" in text or "Permission denied" in text:
        return "permission denied on the socket (add your user to the docker group)"
    return text.splitlines()[0][:300] if text else type(exc).__name__


def leftovers(engine: Engine, project: str) -> dict[str, list[str]]:
    """Containers, networks and volumes that still carry the project's label."""
    flt = {"label": f"{PROJECT_LABEL}={project}"}
    return {
        "containers": [c["Id"] for c in engine.api.containers(all=True, filters=flt)],
        "networks": [n["Id"] for n in engine.api.networks(filters=flt)],
        "volumes": [v["Name"] for v in (engine.api.volumes(filters=flt).get("Volumes") or [])],
    }


def remove_leftovers(engine: Engine, project: str) -> dict[str, list[str]]:
    """The safety net after `compose down`: force-remove anything still labelled with the project."""
    import docker.errors

    found = leftovers(engine, project)
    removals = [
        *((engine.api.remove_container, (c,), {"force": True, "v": True}) for c in found["containers"]),
        *((engine.api.remove_network, (n,), {}) for n in found["networks"]),
        *((engine.api.remove_volume, (v,), {"force": True}) for v in found["volumes"]),
    ]
    for remove, args, kwargs in removals:
        # NotFound: someone else (a concurrent prune) removed it first; that is the goal reached.
        with contextlib.suppress(docker.errors.NotFound):
            remove(*args, **kwargs)
    return found
