"""Health-gated stacks at probe speed: `depends_on: {db: {condition: service_healthy}}` without
waiting for Docker's healthcheck interval.

`docker compose up` waits for a gated dependency until Docker has run its healthcheck, the first
time one `interval` after the container started (30 s by default). For such a model ci-toolkit
lets compose create everything (`compose create`: the same containers, labels — `depends_on`
included —, networks and volumes as `up`), then starts the containers itself in dependency
order, opening each gate as soon as the dependency really answers: its protocol probe when
[services] has one, else its own healthcheck command run right away (`docker exec`), or
Docker's verdict if that comes first. `start_interval` would do the same on engines >= 25 but
changes the user's container config (and its config hash), and many engines in use are older.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ci_toolkit.config import ServiceCheck
from ci_toolkit.errors import ConfigError, ServiceNotReady
from ci_toolkit.stack import compose, health
from ci_toolkit.stack.engine import ContainerState, Engine
from ci_toolkit.stack.probes import NotReady, probe

GATE_POLL = 0.05  # seconds between two looks at a gated dependency (a probe or a healthcheck)
STARTED, HEALTHY, COMPLETED = "service_started", "service_healthy", "service_completed_successfully"


@dataclass(frozen=True)
class Dependency:
    service: str  # the one that waits
    on: str  # the one it waits for
    condition: str  # service_started | service_healthy | service_completed_successfully


def dependencies(model: Mapping[str, Any]) -> list[Dependency]:
    found = []
    for name, spec in (model.get("services") or {}).items():
        depends = (spec or {}).get("depends_on") or {}
        if isinstance(depends, list):  # the short form: started is enough
            depends = {on: {"condition": STARTED} for on in depends}
        for on, how in depends.items():
            found.append(Dependency(name, on, str((how or {}).get("condition", STARTED))))
    return found


def health_gated(model: Mapping[str, Any]) -> bool:
    """Would `compose up` wait for a healthcheck interval? Then ci-toolkit starts the stack itself."""
    return any(d.condition == HEALTHY for d in dependencies(model))


def levels(model: Mapping[str, Any]) -> list[list[str]]:
    """Services in start order: each level depends only on the levels before it."""
    services = set(model.get("services") or {})
    waits_for: dict[str, set[str]] = {name: set() for name in services}
    for dep in dependencies(model):
        if dep.on in services:
            waits_for[dep.service].add(dep.on)
    order: list[list[str]] = []
    placed: set[str] = set()
    while len(placed) < len(services):
        level = sorted(n for n in services - placed if waits_for[n] <= placed)
        if not level:
            cycle = ", ".join(sorted(services - placed))
            raise ConfigError(f"depends_on has a cycle among: {cycle}")
        order.append(level)
        placed.update(level)
    return order


def up_in_order(
    stack: compose.Stack,
    engine: Engine,
    model: Mapping[str, Any],
    checks: Mapping[str, ServiceCheck],
    *,
    timeout: float,
    on_gate: Callable[[str, str, float], None] = lambda service, condition, seconds: None,
) -> None:
    """`compose create`, then start level by level, each gate opened by what really answers."""
    started = time.monotonic()
    deadline = started + timeout
    compose.create(stack, timeout=timeout, model=model)
    gates: dict[str, set[str]] = {}
    for dep in dependencies(model):
        gates.setdefault(dep.on, set()).add(dep.condition)
    for level in levels(model):
        # A level's gated services first: the next level waits on them (each start takes ~0.25 s
        # here; in listing order postgres started up to 0.5 s late, 1.21x the limit vs 1.00x sorted).
        containers = sorted(
            (c for c in engine.containers(stack.project) if c.service in level),
            key=lambda c: c.service not in gates,
        )
        for container in containers:
            if container.status == "created":
                engine.start(container.id)
        for container in containers:
            for condition in sorted(gates.get(container.service, ())):
                _gate(engine, container, condition, checks.get(container.service), deadline)
                on_gate(container.service, condition, time.monotonic() - started)


def _gate(
    engine: Engine, container: ContainerState, condition: str, check: ServiceCheck | None, deadline: float
) -> None:
    last = "no answer yet"
    while True:
        state = engine.inspect(container.id)
        if condition == COMPLETED:
            if state.status in ("exited", "dead"):
                if state.exit_code == 0:
                    return
                raise _failed(
                    engine, state, f"exited with code {state.exit_code}; its dependents need it to succeed"
                )
        else:
            if condition == STARTED and state.status in ("running", "exited"):
                return
            health.fail_if_broken(engine, state, container, phase="while its dependents waited for it")
            if condition == HEALTHY:
                if state.health == "healthy" or (state.health is None and check is None):
                    return
                ok, last = _answers(engine, state, check)
                if ok:
                    return
        if time.monotonic() > deadline:
            raise _failed(
                engine,
                state,
                f"did not become {condition.removeprefix('service_')} in time; last check: {last}",
            )
        time.sleep(GATE_POLL)


def _answers(engine: Engine, state: ContainerState, check: ServiceCheck | None) -> tuple[bool, str]:
    """The service's protocol probe if configured, else its own healthcheck command, run now."""
    if check is not None:
        try:
            probe(check, state.host, state.ports, health.ATTEMPT_TIMEOUT)
            return True, ""
        except NotReady as exc:
            return False, str(exc)
    code, output = engine.run_healthcheck(state.id)
    return code == 0, output.strip().splitlines()[-1] if output.strip() else f"healthcheck exit code {code}"


def _failed(engine: Engine, state: ContainerState, why: str) -> ServiceNotReady:
    return ServiceNotReady(
        state.service,
        f"service {state.service!r} {why}",
        logs=health.tail(engine, state.id),
        hint="see the full log in the artifacts dir (logs/)",
    )
