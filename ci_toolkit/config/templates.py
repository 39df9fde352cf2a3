"""String templates that refer to the live stack: `{postgres.host}`, `{postgres.port:5432}`,
`{env.NAME}` and `{export.NAME}`; and, in `[export]` only, the pytest process they are for:
`{worker}` (`gw0`, `gw1` … under pytest-xdist, `main` without it) and `{worker.index}` (0, 1 …;
0 for `main`). `{{` and `}}` are literal braces.

Templates are parsed at config load (so typos fail before anything starts) and rendered
once the stack's host ports are known; an export that uses `{worker}` (directly or through
another export) is rendered once per worker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_REF = re.compile(r"^(?P<scope>[A-Za-z0-9_.-]+?)\.(?P<attr>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<arg>\d+))?$")
WORKER = "worker"  # the field `{worker}`: gw0, gw1 …, or main
WORKER_INDEX = "worker.index"  # the field `{worker.index}`: 0, 1 …
WORKER_FIELDS = (WORKER, WORKER_INDEX)
_KNOWN = (
    "{SERVICE.host}, {SERVICE.port:CONTAINER_PORT}, {env.NAME}, {export.NAME}, {worker} or {worker.index}"
)


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Ref:
    scope: str  # a service name, "env" or "export"
    attr: str  # host | port for services; a variable name for env/export
    arg: int | None  # container port for `port`


@dataclass(frozen=True)
class Worker:
    """One pytest process the tests run in: an xdist worker, or `main` without xdist."""

    name: str
    index: int

    @classmethod
    def xdist(cls, index: int) -> Worker:
        return cls(f"gw{index}", index)


MAIN = Worker("main", 0)


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
    """What `template` needs from the stack and the environment (`{worker}` fields are checked,
    but are not references: see `worker_fields`)."""
    return [field for field in _fields(template) if isinstance(field, Ref)]


def worker_fields(template: str) -> set[str]:
    """The worker fields `template` uses itself: `worker`, `worker.index`."""
    return {field for field in _fields(template) if isinstance(field, str)}


def per_worker(exports: Mapping[str, str], fields: tuple[str, ...] = WORKER_FIELDS) -> dict[str, str]:
    """The exports that differ per worker, each with how: "{worker}" when it says so itself,
    "{export.X}" when it uses an export that does. Only the worker `fields` asked for count."""
    found: dict[str, str] = {}
    changed = True
    while changed:  # to a fixed point: an export may use any other (a later one fails at render)
        changed = False
        for name, template in exports.items():
            if name not in found and (how := worker_use(template, found, fields)):
                found[name] = how
                changed = True
    return found


def worker_use(
    template: str, per_worker_exports: Mapping[str, str], fields: tuple[str, ...] = WORKER_FIELDS
) -> str | None:
    """How `template` depends on the worker, in words, or None when it does not."""
    own = [f for f in fields if f in worker_fields(template)]
    if own:
        return " and ".join(f"{{{f}}}" for f in own)
    for ref in refs(template):
        if ref.scope == "export" and ref.attr in per_worker_exports:
            return f"{{export.{ref.attr}}}, which uses {per_worker_exports[ref.attr]}"
    return None


def not_per_worker(template: str, exports: Mapping[str, str], key: str) -> str | None:
    """The problem with `template` (the value of `key`) when it depends on the worker, though
    ci-toolkit connects with it itself, once (the migrations: on the database every worker's
    copy is made from); None when it does not (or does not parse: that is reported elsewhere)."""
    try:
        varying = per_worker(exports)
        how = worker_use(template, varying)
    except TemplateError:
        return None
    if how is None:
        return None
    for _ in range(len(varying) + 1):  # write out the per-worker exports it uses, level by level
        template = _EXPORT_REF.sub(lambda m: exports[m[1]] if m[1] in varying else m[0], template)
    fixed = _WORKER_PART.sub("", template)
    return (
        f"uses {how}; migrations run once, on the database each worker's copy is made from, so "
        f'{key} cannot depend on the worker: write it without, e.g. {key} = "{fixed}"'
    )


_WORKER_PART = re.compile(r"[_-]?\{\s*worker(?:\.index)?\s*\}")  # "_{worker}" in ".../app_{worker}"
_EXPORT_REF = re.compile(r"\{\s*export\.([A-Za-z_][A-Za-z0-9_]*)\s*\}")


def _fields(template: str) -> Iterator[Ref | str]:
    for match in _FIELD.finditer(template):
        body = match.group(1)
        if body is not None:
            yield _parse(body)


def _parse(body: str) -> Ref | str:
    name = body.strip()
    if name in WORKER_FIELDS:
        return name
    ref = _REF.match(name)
    if not ref:
        raise TemplateError(f"cannot read {{{body}}}; use {_KNOWN}")
    scope, attr, arg = ref["scope"], ref["attr"], ref["arg"]
    if scope == WORKER and attr not in ("host", "port"):  # `{worker.host}`: a service named worker
        raise TemplateError(f"{{{body}}}: a worker has {{worker}} (gw0, gw1 … or main) and {{worker.index}}")
    if scope not in ("env", "export") and attr not in ("host", "port"):
        raise TemplateError(f"{{{body}}}: a service has .host and .port, not .{attr}")
    if scope in ("env", "export") and arg is not None:
        raise TemplateError(f"{{{body}}}: {scope} references take no port")
    if attr == "host" and arg is not None:
        raise TemplateError(f"{{{body}}}: .host takes no port")
    return Ref(scope, attr, int(arg) if arg else None)


def render(
    template: str,
    *,
    endpoints: Mapping[str, Reachable],
    default_ports: Mapping[str, int],
    env: Mapping[str, str],
    exports: Mapping[str, str],
    worker: Worker | None = None,
) -> str:
    """`worker`: the pytest process an export is rendered for; None where no worker applies
    (what ci-toolkit connects with itself), and then `{worker}` is an error."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        ref = _parse(token[1:-1])
        if isinstance(ref, str):
            if worker is None:
                raise TemplateError(f"{token}: only an [export] can differ per worker")
            return worker.name if ref == WORKER else str(worker.index)
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
