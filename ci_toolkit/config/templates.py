"""String templates that refer to the live stack: `{postgres.host}`, `{postgres.port:5432}`,
`{env.NAME}` and `{export.NAME}`. `{{` and `}}` are literal braces.

Templates are parsed at config load (so typos fail before anything starts) and rendered
once the stack's host ports are known.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_REF = re.compile(r"^(?P<scope>[A-Za-z0-9_.-]+?)\.(?P<attr>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<arg>\d+))?$")


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Ref:
    scope: str  # a service name, "env" or "export"
    attr: str  # host | port for services; a variable name for env/export
    arg: int | None  # container port for `port`


class Reachable(Protocol):
    """The one shape of port data: a host address and container port -> host port. The engine's
    `ContainerState`, a run's `ServiceResult` and `Endpoint` below all have it."""

    @property
    def host(self) -> str: ...

    @property
    def ports(self) -> Mapping[int, int]: ...


@dataclass(frozen=True)
class Endpoint:
    """Where a service's container port is reachable from the host."""

    host: str
    ports: Mapping[int, int]  # container port -> host port


def refs(template: str) -> list[Ref]:
    found: list[Ref] = []
    for match in _FIELD.finditer(template):
        body = match.group(1)
        if body is None:
            continue
        ref = _REF.match(body.strip())
        if not ref:
            raise TemplateError(
                f"cannot read {{{body}}}; use {{SERVICE.host}}, {{SERVICE.port:CONTAINER_PORT}}, "
                "{env.NAME} or {export.NAME}"
            )
        scope, attr, arg = ref["scope"], ref["attr"], ref["arg"]
        if scope not in ("env", "export") and attr not in ("host", "port"):
            raise TemplateError(f"{{{body}}}: a service has .host and .port, not .{attr}")
        if scope in ("env", "export") and arg is not None:
            raise TemplateError(f"{{{body}}}: {scope} references take no port")
        if attr == "host" and arg is not None:
            raise TemplateError(f"{{{body}}}: .host takes no port")
        found.append(Ref(scope, attr, int(arg) if arg else None))
    return found


def render(
    template: str,
    *,
    endpoints: Mapping[str, Reachable],
    default_ports: Mapping[str, int],
    env: Mapping[str, str],
    exports: Mapping[str, str],
) -> str:
    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        (ref,) = refs(token)
        if ref.scope == "env":
            if ref.attr not in env:
                raise TemplateError(f"{token}: environment variable {ref.attr} is not set")
            return env[ref.attr]
        if ref.scope == "export":
            if ref.attr not in exports:
                raise TemplateError(f"{token}: no export named {ref.attr} is defined before it")
            return exports[ref.attr]
        endpoint = endpoints.get(ref.scope)
        if endpoint is None:
            raise TemplateError(f"{token}: service {ref.scope!r} is not running in the stack")
        if ref.attr == "host":
            return endpoint.host
        container_port = ref.arg or default_ports.get(ref.scope)
        if container_port is None:
            raise TemplateError(f"{token}: say which container port, e.g. {{{ref.scope}.port:5432}}")
        if container_port not in endpoint.ports:
            published = ", ".join(str(p) for p in sorted(endpoint.ports)) or "none"
            raise TemplateError(
                f"{token}: service {ref.scope!r} does not publish container port {container_port} "
                f'(published: {published}); add "127.0.0.1::{container_port}" under its ports'
            )
        return str(endpoint.ports[container_port])

    return _FIELD.sub(replace, template)
