"""Wait until every service of a stack really answers, all services in parallel.

Each service gets its own waiter that starts a protocol probe every POLL_INTERVAL, letting
attempts overlap: a connection opened in the first moments after `up` can hang ~1 s inside
docker-proxy (a lost SYN), and a fresh attempt 50 ms later gets through while it hangs.
Meanwhile the main thread watches the containers and fails within ~0.2 s when one exits,
restart-loops or turns unhealthy, showing that service's last log lines. A probe that is
refused for its credentials (`ServiceAuthFailed`) is not retried: the wait ends at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ci_toolkit.config import ServiceCheck
from ci_toolkit.errors import InfrastructureError, ServiceAuthFailed, ServiceNotReady
from ci_toolkit.stack.engine import ContainerState, Engine, lost
from ci_toolkit.stack.probes import NotReady, probe

POLL_INTERVAL = 0.05  # seconds between attempt starts, per service
ATTEMPT_TIMEOUT = 1.0  # per attempt; attempts overlap, so this bounds threads, not latency
MAX_IN_FLIGHT = 24
WATCH_INTERVAL = 0.2  # how often container state is checked for an early failure
LOG_LINES = 30


@dataclass(frozen=True)
class Readiness:
    service: str
    seconds: float
    attempts: int


class _Waiter:
    """Probes one service with overlapping attempts until one succeeds."""

    def __init__(self, check: ServiceCheck, host: str, ports: dict[int, int]) -> None:
        self.check = check
        self.host = host
        self.ports = ports
        self.done = threading.Event()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.attempts = 0
        self.last_error = "no attempt finished yet"
        self.ready_at: float | None = None
        self.refused: ServiceAuthFailed | None = None  # set with `done`: the wait is over, not ready

    def run(self) -> None:
        while not (self.done.is_set() or self.stop.is_set()):
            with self.lock:
                room = self.in_flight < MAX_IN_FLIGHT
                if room:
                    self.in_flight += 1
                    self.attempts += 1
            if room:
                threading.Thread(target=self._attempt, daemon=True).start()
            self.stop.wait(POLL_INTERVAL)

    def _attempt(self) -> None:
        try:
            probe(self.check, self.host, self.ports, ATTEMPT_TIMEOUT)
        except NotReady as exc:
            with self.lock:
                self.last_error = str(exc)
        except ServiceAuthFailed as exc:
            with self.lock:
                self.refused = self.refused or exc
            self.done.set()
        else:
            with self.lock:
                if self.ready_at is None:
                    self.ready_at = time.monotonic()
            self.done.set()
        finally:
            with self.lock:
                self.in_flight -= 1


def wait_ready(
    engine: Engine,
    project: str,
    checks: Mapping[str, ServiceCheck],
    *,
    started: float,
    timeout: float,
    on_ready: Callable[[Readiness], None] = lambda r: None,
) -> dict[str, Readiness]:
    """Block until every container is up and every checked service answers its protocol.

    `started` is the monotonic time compose up began: readiness is reported from there.
    Services without a check are ready when running (and healthy, if they have a healthcheck).
    """
    containers = {c.service: c for c in engine.containers(project)}
    missing = sorted(set(checks) - set(containers))
    if missing:
        raise InfrastructureError(f"no container for service(s) {', '.join(missing)} in project {project}")
    waiters = {}
    for name, check in checks.items():
        waiters[name] = _Waiter(check, containers[name].host, containers[name].ports)
    for waiter in waiters.values():
        threading.Thread(target=waiter.run, daemon=True).start()
    deadline = {name: started + min(check.timeout, timeout) for name, check in checks.items()}
    phase_deadline = started + timeout
    ready: dict[str, Readiness] = {}
    try:
        while True:
            for name, waiter in waiters.items():
                if waiter.refused is not None and waiter.ready_at is None:
                    _refused(engine, containers[name], waiter.refused)
                if name not in ready and waiter.ready_at is not None:
                    ready[name] = Readiness(name, waiter.ready_at - started, waiter.attempts)
                    on_ready(ready[name])
            states = {c.service: c for c in engine.containers(project)}
            for name, state in states.items():
                fail_if_broken(engine, state, containers.get(name), checked=name in checks)
                if (
                    name not in checks
                    and name not in ready
                    and (_up(state) or _finished(state) or _passes(engine, state))
                ):
                    ready[name] = Readiness(name, time.monotonic() - started, 0)
                    on_ready(ready[name])
            if len(ready) >= len(states) and all(n in ready for n in checks):
                return ready
            now = time.monotonic()
            for name, waiter in waiters.items():
                if name not in ready and now > deadline[name]:
                    _timed_out(engine, states.get(name), name, now - started, waiter.last_error)
            if now > phase_deadline:
                late = sorted(set(states) - set(ready))
                raise InfrastructureError(
                    f"services not ready after {timeout:g}s: {', '.join(late)}",
                    hint="raise timeouts.ready, or check the services' logs in the artifacts dir",
                )
            # Sleep until the next state check, waking early if a waiter finishes.
            for waiter in waiters.values():
                if not waiter.done.is_set():
                    waiter.done.wait(WATCH_INTERVAL)
                    break
            else:
                time.sleep(0.02)
    finally:
        for waiter in waiters.values():
            waiter.stop.set()


def watch(
    engine: Engine,
    project: str,
    baseline: Mapping[str, ContainerState],
    checked: frozenset[str] = frozenset(),
    signalled: Callable[[str], bool] = lambda container_id: False,
) -> None:
    """Raise `ServiceNotReady` if a container exited, restart-looped or turned unhealthy
    since `baseline` was taken (used while the tests run); `EngineLost` if the engine took the
    containers down. `signalled(id)` says whether a container was sent a signal (engine events)."""
    states = engine.containers(project)
    for state in states:
        before = baseline.get(state.service)
        if before is not None and before.status in ("exited", "dead"):
            continue  # it had already finished (an init job) before the tests started
        try:
            fail_if_broken(engine, state, before, checked=state.service in checked, phase="during the tests")
        except ServiceNotReady:
            # An engine that is shutting down stops every container first and closes its API
            # last: "all of them exited at once" is the engine's doing if it then stops answering.
            # A container that was signalled (not one that crashed) may be the first of them; so may
            # one that exited while its kill event is still on its way (postgres exits 0 on SIGTERM).
            exited = state.status in ("exited", "dead")
            suspicious = exited or signalled(state.id) or _all_stopped(states, baseline)
            if suspicious and _engine_going_away(engine):
                raise lost() from None
            raise


ENGINE_VERDICT_SECONDS = 5.0  # how long a suspected engine shutdown is watched before blaming a service


def _all_stopped(states: list[ContainerState], baseline: Mapping[str, ContainerState]) -> bool:
    was_running = [s for s in states if (b := baseline.get(s.service)) is not None and b.status == "running"]
    return bool(was_running) and all(s.status in ("exited", "dead") for s in was_running)


def _engine_going_away(engine: Engine) -> bool:
    deadline = time.monotonic() + ENGINE_VERDICT_SECONDS
    while time.monotonic() < deadline:
        if not engine.reachable(timeout=0.5):
            return True
        time.sleep(0.1)
    return False


def _finished(state: ContainerState) -> bool:
    """A one-shot job (seed, init) that ran to completion: ready in its own way."""
    return state.status == "exited" and state.exit_code == 0


def _passes(engine: Engine, state: ContainerState) -> bool:
    """A healthcheck Docker has not run yet (it waits an interval): run it now ourselves."""
    return (
        state.status == "running" and state.health == "starting" and engine.run_healthcheck(state.id)[0] == 0
    )


def _up(state: ContainerState) -> bool:
    return state.status == "running" and state.health in (None, "healthy")


def fail_if_broken(
    engine: Engine,
    state: ContainerState,
    first: ContainerState | None,
    *,
    checked: bool = True,
    phase: str = "while starting",
) -> None:
    reason = None
    if state.status in ("exited", "dead"):
        if state.exit_code == 0 and not checked:
            return  # a one-shot service (an init job) that finished; not a failure by itself
        reason = f"container {state.name} exited with code {state.exit_code}"
    elif state.status == "restarting" or (first is not None and state.restart_count > first.restart_count):
        reason = f"container {state.name} is restart-looping (restarts: {state.restart_count})"
    elif state.health == "unhealthy":
        reason = f"container {state.name} turned unhealthy"
    if reason:
        raise ServiceNotReady(
            state.service,
            f"service {state.service!r} failed {phase}: {reason}",
            logs=tail(engine, state.id),
            hint="see the full log in the artifacts dir (logs/)",
        )


def _refused(engine: Engine, state: ContainerState, exc: ServiceAuthFailed) -> None:
    """Re-raise a refused probe in the main thread, with the service's last log lines."""
    raise ServiceAuthFailed(exc.service, exc.message, logs=tail(engine, state.id), hint=exc.hint)


def _timed_out(
    engine: Engine, state: ContainerState | None, name: str, waited: float, last_error: str
) -> None:
    raise ServiceNotReady(
        name,
        f"service {name!r} not ready after {waited:.1f}s; last probe: {last_error}",
        logs=tail(engine, state.id) if state else "",
        hint=f"raise services.{name}.timeout, or check that the service's config matches the check",
    )


def tail(engine: Engine, container_id: str) -> str:
    try:
        return engine.logs(container_id, tail=LOG_LINES)
    except Exception:  # the logs are a courtesy; never hide the real failure behind them
        return ""
