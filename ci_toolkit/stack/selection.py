"""The stack ci-toolkit runs out of a developer's compose file: only the services `start` (or
`--service`) names and what they depend on, and with `ports = "dynamic"` every published port
moved to 127.0.0.1 on a host port the engine picks.

The choice travels inside the compose model, under an `x-` extension key (compose keeps those
for tools): the model after `effective()` is the stack as it will run, so everything that reads
the model — the owner override, `up`/`create`, the identity of a lease or a snapshot, the image
pull before the identity — sees the selection and the port mode without being told separately.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ci_toolkit.config import ServiceCheck
from ci_toolkit.config.schema import did_you_mean
from ci_toolkit.errors import ConfigError
from ci_toolkit.stack import credentials

EXTENSION = "x-ci-toolkit"
DYNAMIC = "dynamic"
LOOPBACK = "127.0.0.1"
# Network modes under which a service has no ports of its own: compose rejects or ignores them.
_SHARED_NETWORK = ("host", "service:", "container:")


def unknown(model: Mapping[str, Any], names: Iterable[str]) -> list[str]:
    services = model.get("services") or {}
    return [name for name in names if name not in services]


def unknown_error(
    model: Mapping[str, Any], names: Sequence[str], files: Sequence[Path], source: Path
) -> ConfigError:
    """`start`/`--service` naming services the compose files do not define."""
    services = sorted(model.get("services") or {})
    bad = unknown(model, names)
    listed = "; ".join(f"{name!r}{did_you_mean(name, services)}" for name in bad)
    return ConfigError(
        f"{source}: start: no such service in {', '.join(str(f) for f in files)}: {listed} "
        f"(services: {', '.join(services)})",
        hint="name compose services in `start` (or --service); check the compose file's `services:`",
    )


def closure(model: Mapping[str, Any], names: Iterable[str]) -> list[str]:
    """`names` and everything they depend on, transitively, in the model's order. Compose folds
    links, `network_mode: service:X` and `volumes_from` into `depends_on` in the model."""
    services = model.get("services") or {}
    wanted: set[str] = set()
    pending = [n for n in names if n in services]
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted.add(name)
        depends = (services[name] or {}).get("depends_on") or {}
        pending.extend(on for on in depends if on in services)  # a dict, or the short list form
    return [name for name in services if name in wanted]


def effective(model: Mapping[str, Any], start: Sequence[str], ports: str) -> dict[str, Any]:
    """The model as ci-toolkit will run it. Unchanged (no extension key) for the defaults, so
    a stack's identity stays what it was before these settings existed."""
    if not start and ports != DYNAMIC:
        return dict(model)
    services = dict(model.get("services") or {})
    chosen: dict[str, Any] = {}
    if start:
        services = {name: services[name] for name in closure(model, start)}
        chosen["start"] = list(services)
    if ports == DYNAMIC:
        services = {name: _dynamic(spec) for name, spec in services.items()}
        chosen["ports"] = DYNAMIC
    return {**model, "services": services, EXTENSION: chosen}


def started(model: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The services to name to `compose up`/`create`; () = all of them (nothing was chosen)."""
    return tuple(((model or {}).get(EXTENSION) or {}).get("start") or ())


def dynamic_ports(model: Mapping[str, Any] | None) -> bool:
    return ((model or {}).get(EXTENSION) or {}).get("ports") == DYNAMIC


def _dynamic(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A service with each published port on 127.0.0.1 and no host port, so the engine picks a
    free one; one entry per target and protocol (two host ports for one target would only be
    two random ports reaching the same thing)."""
    published = spec.get("ports") or []
    if not published or str(spec.get("network_mode") or "").startswith(_SHARED_NETWORK):
        return dict(spec)
    rewritten: dict[tuple[int, str], dict[str, Any]] = {}
    for port in published:
        target, protocol = int(port["target"]), str(port.get("protocol") or "tcp")
        mode = port.get("mode") or "ingress"
        entry = {"mode": mode, "host_ip": LOOPBACK, "target": target, "protocol": protocol}
        entry.update({k: port[k] for k in ("app_protocol", "name") if port.get(k)})
        rewritten.setdefault((target, protocol), entry)
    return {**spec, "ports": list(rewritten.values())}


def started_checks(
    checks: Mapping[str, ServiceCheck],
    model: Mapping[str, Any] | None,
    say: Callable[[str], None] = lambda line: None,
) -> dict[str, ServiceCheck]:
    """The readiness checks of the services that are started; each other one is skipped with a
    line (the config keeps `[services.X]` for the whole file, a run may start only a part)."""
    chosen = started(model)
    if not chosen:
        return dict(checks)
    kept = {name: check for name, check in checks.items() if name in chosen}
    for name in sorted(set(checks) - set(kept)):
        say(f"    {name}: readiness check skipped: not started (this run starts {', '.join(chosen)})")
    return kept


def run_checks(
    services: Sequence[ServiceCheck],
    model: Mapping[str, Any] | None,
    say: Callable[[str], None] = lambda line: None,
) -> dict[str, ServiceCheck]:
    """The checks this run applies: the config's, with credentials found in the compose model,
    for the services it starts. The one answer for readiness, gates, warm probes and resets."""
    return started_checks(credentials.checks(services, model), model, say)


class Override(list[Any]):
    """A list that replaces the one in the files before ours (compose's `!override` tag), where
    compose would otherwise merge the two: ports are merged by target, so a fixed host port stays."""


def to_yaml(value: Mapping[str, Any]) -> str:
    """An override document as YAML: block mappings, JSON (a YAML subset) for the leaves, and
    the `!override` tag on `Override` lists. JSON itself cannot carry the tag."""
    return "".join(_yaml_lines(value, 0))


def _yaml_lines(value: Mapping[str, Any], depth: int) -> Iterable[str]:
    pad = "  " * depth
    for key, item in value.items():
        name = json.dumps(str(key))
        if isinstance(item, Override):
            yield f"{pad}{name}: !override{'' if item else ' []'}\n"
            yield from (f"{pad}  - {json.dumps(entry, sort_keys=True)}\n" for entry in item)
        elif isinstance(item, Mapping) and item:
            yield f"{pad}{name}:\n"
            yield from _yaml_lines(item, depth + 1)
        else:
            yield f"{pad}{name}: {json.dumps(item, sort_keys=True)}\n"
