"""Where a started stack's services are, and whether they answer: the pollers each readiness
variant uses, the independent verification with real client libraries, and postgres' own log."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ci_toolkit.config import ServiceCheck
from ci_toolkit.stack.engine import Engine
from ci_toolkit.stack.probes import NotReady, probe

MAX_IN_FLIGHT = 32  # per service, for the overlapping tight poll


@dataclass(frozen=True)
class Endpoint:
    check: ServiceCheck
    host: str
    ports: dict[int, int]  # container port -> host port

    def port(self) -> int:
        return self.ports[self.check.port]


def endpoints(
    engine: Engine, project: str, service_checks: Mapping[str, ServiceCheck]
) -> dict[str, Endpoint]:
    """Host ports of a started project, read from the engine (one list + one inspect per container)."""
    found = {c.service: c for c in engine.containers(project)}
    result = {}
    for name, check in service_checks.items():
        ports = found[name].ports
        result[name] = Endpoint(check, found[name].host, dict(ports))
    return result


READY_LINE = "database system is ready to accept connections"


def postgres_ready_at(engine: Engine, project: str) -> float | None:
    """When postgres itself logged that it accepts connections (Unix time, the daemon's log
    timestamp). The last such line counts: the entrypoint's first server, during initdb, listens
    on the unix socket only and is then restarted."""
    container = next((c for c in engine.containers(project) if c.service == "postgres"), None)
    if container is None:
        return None
    logs = subprocess.run(["docker", "logs", "-t", container.id], capture_output=True, text=True, timeout=60)
    stamps = [
        line.split(" ", 1)[0] for line in (logs.stdout + logs.stderr).splitlines() if READY_LINE in line
    ]
    if not stamps:
        return None
    return unix_time(stamps[-1])


def unix_time(stamp: str) -> float:
    """`2026-11-21T17:57:47.581179489Z` (nanoseconds, which datetime does not take) -> Unix time."""
    whole, _, frac = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(whole).replace(tzinfo=UTC).timestamp() + float(f"0.{frac or 0}")


def answers(ep: Endpoint, timeout: float) -> bool:
    """One protocol probe (`ci_toolkit.stack.probes.probe`): login + SELECT 1, PING, NATS CONNECT +
    JetStream API."""
    try:
        probe(ep.check, ep.host, ep.ports, timeout)
    except NotReady:
        return False
    return True


def tight_poll(
    eps: Mapping[str, Endpoint],
    started: float,
    *,
    interval: float = 0.01,
    attempt_timeout: float = 1.0,
    timeout: float = 120,
) -> dict[str, float]:
    """Start a probe of every not-yet-ready service every `interval`, letting attempts overlap.

    Overlap matters: a connection opened just after `up` can hang ~1 s inside docker-proxy; the
    attempt started 10 ms later gets through meanwhile. Returns seconds from `started` per service.
    """
    ready: dict[str, float] = {}
    in_flight: Counter[str] = Counter()
    lock = threading.Lock()
    all_ready = threading.Event()

    def attempt(name: str, ep: Endpoint) -> None:
        try:
            if answers(ep, attempt_timeout):
                with lock:
                    ready.setdefault(name, time.perf_counter() - started)
                    if len(ready) == len(eps):
                        all_ready.set()
        finally:
            with lock:
                in_flight[name] -= 1

    deadline = time.perf_counter() + timeout
    while not all_ready.is_set():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"not ready after {timeout:g}s: {sorted(set(eps) - set(ready))}")
        for name, ep in eps.items():
            with lock:
                go = name not in ready and in_flight[name] < MAX_IN_FLIGHT
                if go:
                    in_flight[name] += 1
            if go:
                threading.Thread(target=attempt, args=(name, ep), daemon=True).start()
        all_ready.wait(interval)
    return dict(ready)


def wait_until_responsive(check: Callable[[], bool], timeout: float, pause: float) -> None:
    """The loop of pytest-docker's `Services.wait_until_responsive`: check, else sleep `pause`."""
    ref = time.perf_counter()
    now = ref
    while (now - ref) < timeout:
        if check():
            return
        time.sleep(pause)
        now = time.perf_counter()
    raise TimeoutError(f"not responsive after {timeout:g}s")


def verify(eps: Mapping[str, Endpoint]) -> str:
    """Check with the real client libraries (not ci-toolkit's probes) that every service answers.

    Returns "" when all do, else what failed. One attempt each, 5 s timeout, no retries.
    """
    problems = []
    for name, ep in eps.items():
        try:
            VERIFIERS[ep.check.kind](ep)
        except Exception as exc:
            problems.append(f"{name}: {type(exc).__name__}: {str(exc).strip()[:200]}")
    return "; ".join(problems)


def _verify_postgres(ep: Endpoint) -> None:
    import psycopg

    c = ep.check
    with psycopg.connect(
        host=ep.host, port=ep.port(), user=c.user, password=c.password, dbname=c.database, connect_timeout=5
    ) as conn:
        row = conn.execute("SELECT 1").fetchone()
        assert row == (1,), row


def _verify_redis(ep: Endpoint) -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # One attempt: by default redis-py retries a refused connect with backoff (3.6 s here).
    no_retry = Retry(NoBackoff(), 0)
    client = redis.Redis(
        host=ep.host, port=ep.port(), socket_timeout=5, socket_connect_timeout=5, retry=no_retry
    )
    try:
        assert client.ping() is True
    finally:
        client.close()


def _verify_nats(ep: Endpoint) -> None:
    import nats

    async def check() -> None:
        nc = await nats.connect(
            f"nats://{ep.host}:{ep.port()}",
            connect_timeout=5,
            allow_reconnect=False,
            max_reconnect_attempts=0,
        )
        try:
            if ep.check.jetstream:
                await nc.jetstream().account_info()
            else:
                await nc.flush(timeout=5)
        finally:
            await nc.close()

    asyncio.run(check())


VERIFIERS: dict[str, Callable[[Endpoint], None]] = {
    "postgres": _verify_postgres,
    "redis": _verify_redis,
    "nats": _verify_nats,
}
