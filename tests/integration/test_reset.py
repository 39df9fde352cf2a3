"""Reset of a reused stack against real Postgres, Redis and NATS JetStream: after `reset`, what
the tests wrote is gone and what migrations made is there, however the state was changed."""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from tests.conftest import assert_no_leaks, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

COMPOSE = """
services:
  db:
    image: postgres:15
    environment: {POSTGRES_USER: test, POSTGRES_PASSWORD: test, POSTGRES_DB: app}
    ports: ["127.0.0.1::5432"]
    volumes: [pgdata:/var/lib/postgresql/data]
  cache:
    image: redis:7
    ports: ["127.0.0.1::6379"]
  bus:
    image: nats:2.10
    command: ["-js"]
    ports: ["127.0.0.1::4222"]
volumes:
  pgdata:
"""
TIMEOUT = 60.0  # a bound on a hung server, not how long a reset takes (milliseconds)


@dataclass(frozen=True)
class Live:
    stack: Any  # ci_toolkit.stack.compose.Stack
    services: dict[str, Any]  # service -> ServiceResult
    checks: tuple[Any, ...]  # ServiceCheck for db, cache, bus

    def port(self, service: str) -> int:
        return int(next(iter(self.services[service].ports.values())))

    def dsn(self, database: str = "app") -> str:
        return f"postgresql://test:test@127.0.0.1:{self.port('db')}/{database}"

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.port('bus')}"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from ci_toolkit.config import ServiceCheck
    from ci_toolkit.results.model import ServiceResult
    from ci_toolkit.stack.compose import Stack
    from ci_toolkit.stack.probes import NotReady, probe

    workdir = tmp_path_factory.mktemp("reset")
    (workdir / "compose.yaml").write_text(COMPOSE)
    project = f"citk-test-reset-{secrets.token_hex(4)}"
    stack = Stack(project, (workdir / "compose.yaml",), workdir=workdir)
    checks = (
        ServiceCheck("db", "postgres", 5432, TIMEOUT, user="test", password="test", database="app"),
        ServiceCheck("cache", "redis", 6379, TIMEOUT),
        ServiceCheck("bus", "nats", 4222, TIMEOUT, jetstream=True),
    )
    try:
        stack.run("up", "--detach", "--pull", "never", timeout=300)
        services = {}
        for check in checks:
            host, _, port = stack.run("port", check.name, str(check.port), timeout=60).strip().rpartition(":")
            services[check.name] = ServiceResult(None, host, {check.port: int(port)})

        def ready() -> bool:
            try:
                for check in checks:
                    probe(check, "127.0.0.1", services[check.name].ports, 5)
            except NotReady:
                return False
            return True

        wait_until(ready, what="postgres, redis and nats to answer")
        yield Live(stack, services, checks)
    finally:
        subprocess.run(
            ["docker", "compose", "-p", project, "down", "-v", "--remove-orphans", "--timeout", "0"],
            capture_output=True,
            check=False,
        )
        assert_no_leaks(project)


@pytest.fixture(autouse=True)
def settled() -> Iterator[None]:
    """No test starts while the last one's background copy (the next spare) still runs."""
    from ci_toolkit.reuse.reset import wait_for_background

    yield
    assert wait_for_background(TIMEOUT)


def _sql(dsn: str, *statements: str) -> list[tuple[Any, ...]]:
    import psycopg

    rows: list[tuple[Any, ...]] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            cur = conn.execute(statement)
            rows = cur.fetchall() if cur.description else []
    return rows


def _nats(live: Live, work: Callable[[Any], Awaitable[Any]]) -> Any:
    import nats

    async def run() -> Any:
        nc = await nats.connect(live.nats_url)
        try:
            return await work(nc.jetstream())
        finally:
            await nc.close()

    return asyncio.run(run())


async def _streams(js: Any) -> dict[str, tuple[set[str], int]]:
    """stream -> (its consumers, its message count)."""
    found = {}
    for info in await js.streams_info():
        consumers = {c.name for c in await js.consumers_info(info.config.name)}
        found[info.config.name] = (consumers, info.state.messages)
    return found


def _redis(live: Live) -> Any:
    import redis

    return redis.Redis(host="127.0.0.1", port=live.port("cache"))


def _migrate(live: Live) -> None:
    """What migrations make: a table with a row, and a stream with a durable consumer."""
    _sql(
        live.dsn(),
        "DROP TABLE IF EXISTS orders",
        "CREATE TABLE orders (id int PRIMARY KEY, note text)",
        "INSERT INTO orders VALUES (1, 'migrated')",
    )
    _redis(live).flushall()

    async def streams(js: Any) -> None:
        for info in await js.streams_info():
            await js.delete_stream(info.config.name)
        await js.add_stream(name="BASE", subjects=["base.>"])
        await js.add_consumer("BASE", durable_name="worker")

    _nats(live, streams)


def _write_like_tests(live: Live) -> Any:
    """What tests leave behind; returns an idle connection to the database, left open."""
    import psycopg

    _sql(live.dsn(), "INSERT INTO orders VALUES (2, 'written by a test')")
    _redis(live).set("session:1", "x")

    async def streams(js: Any) -> None:
        await js.add_stream(name="NEW", subjects=["new.>"])
        kv = await js.create_key_value(bucket="settings")
        await kv.put("mode", b"test")
        await js.add_consumer("BASE", durable_name="extra")
        await js.publish("base.created", b"{}")

    _nats(live, streams)
    idle = psycopg.connect(live.dsn(), autocommit=True)
    idle.execute("SELECT 1")
    return idle


def _assert_just_migrated(live: Live, idle: Any) -> None:
    import psycopg

    assert _sql(live.dsn(), "SELECT id, note FROM orders ORDER BY id") == [(1, "migrated")]
    assert _redis(live).dbsize() == 0
    assert _nats(live, _streams) == {"BASE": ({"worker"}, 0)}
    with pytest.raises(psycopg.OperationalError):
        idle.execute("SELECT 1")  # its backend was ended: it must reconnect to the new database
    idle.close()


def test_reset_puts_postgres_redis_and_nats_back_to_just_migrated(live: Live) -> None:
    from ci_toolkit.reuse.reset import Baseline, reset, take_baseline, wait_for_background

    _migrate(live)
    taken = take_baseline(live.checks, live.services, timeout=TIMEOUT)
    baseline = Baseline.from_dict(json.loads(json.dumps(taken.to_dict())))  # as the lease keeps it
    assert baseline == taken
    assert baseline.postgres["db"].template == "app_citk_template"
    assert set(baseline.nats["bus"].streams["BASE"].consumers) == {"worker"}

    seconds: dict[str, list[float]] = {"db": [], "cache": [], "bus": []}
    done: list[tuple[str, str, float]] = []
    for run in range(5):
        assert wait_for_background(TIMEOUT)  # the spare is ready: the fast path
        if run == 4:  # ... unless it is gone: the database is copied from the template at once
            _sql(live.dsn("postgres"), "DROP DATABASE app_citk_spare")
        idle = _write_like_tests(live)
        done.clear()
        notes = reset(
            live.checks,
            live.services,
            baseline,
            live.stack,
            timeout=TIMEOUT,
            on_reset=lambda service, what, took: done.append((service, what, took)),
        )
        assert notes == []
        assert [s for s, _, _ in done] == ["db", "cache", "bus"]
        what = {service: text for service, text, _ in done}
        for service, _, took in done:
            seconds[service].append(took)
        how = "recreated from the template" if run == 4 else "swapped for a spare copy of the template"
        assert what["db"] == f"database app {how} (1 connection ended)"
        assert what["cache"] == "FLUSHALL"
        assert what["bus"] == "JetStream: 2 streams deleted, 1 purged, 1 consumer deleted, 0 recreated"
        _assert_just_migrated(live, idle)

    fast = {s: round(statistics.median(t[:4]) * 1000, 1) for s, t in seconds.items()}
    print(f"\nreset medians, ms (fast path): {fast}; without a spare: db {seconds['db'][4] * 1000:.1f}")


@pytest.mark.parametrize(
    "database",
    ["postgres", 'Mixed "Quoted" Name', "ü" * 30],  # template1 as maintenance db; quoting; > 63 bytes
)
def test_postgres_reset_any_database_name(live: Live, database: str) -> None:
    from ci_toolkit.reuse.reset import reset, take_baseline, wait_for_background
    from ci_toolkit.stack.pgwire import quote_ident

    check = replace(live.checks[0], database=database)
    if database != "postgres":
        _sql(
            live.dsn(),
            f"DROP DATABASE IF EXISTS {quote_ident(database)}",
            f"CREATE DATABASE {quote_ident(database)}",
        )
    dsn = f"host=127.0.0.1 port={live.port('db')} user=test password=test dbname='{database}'"
    _sql(dsn, "DROP TABLE IF EXISTS t", "CREATE TABLE t (v text)", "INSERT INTO t VALUES ('migrated')")
    baseline = take_baseline([check], live.services, timeout=TIMEOUT)
    assert len(baseline.postgres["db"].template.encode()) <= 63
    for _ in range(2):  # without the spare (still being copied, maybe), then with it
        _sql(dsn, "INSERT INTO t VALUES ('test')", "CREATE TABLE extra (i int)")
        reset([check], live.services, baseline, live.stack, timeout=TIMEOUT)
        assert _sql(dsn, "SELECT v FROM t") == [("migrated",)]
        assert _sql(dsn, "SELECT to_regclass('extra') IS NULL") == [(True,)]
        assert wait_for_background(TIMEOUT)


def test_a_reset_hook_runs_instead_of_the_built_in_reset(live: Live) -> None:
    from ci_toolkit.reuse.reset import Baseline, reset

    _redis(live).set("kept", "1")
    hooked = replace(live.checks[1], reset=("redis-cli", "SET", "marker", "1"))
    done: list[tuple[str, str]] = []
    notes = reset(
        [hooked],
        live.services,
        Baseline(),
        live.stack,
        timeout=TIMEOUT,
        on_reset=lambda s, w, _: done.append((s, w)),
    )
    assert notes == []
    assert done == [("cache", "reset hook `redis-cli SET marker 1` ran")]
    assert _redis(live).get("marker") == b"1"
    assert _redis(live).get("kept") == b"1"  # no FLUSHALL


def test_a_failing_hook_names_the_service_the_command_and_its_output(live: Live) -> None:
    from ci_toolkit.errors import ExitCode, InfrastructureError
    from ci_toolkit.reuse.reset import Baseline, reset

    failing = replace(
        live.checks[1], reset=("sh", "-c", "echo 'cannot reset: read-only replica' >&2; exit 3")
    )
    with pytest.raises(InfrastructureError) as info:
        reset([failing], live.services, Baseline(), live.stack, timeout=TIMEOUT)
    text = str(info.value)
    assert info.value.exit_code == ExitCode.INFRASTRUCTURE
    assert "cache: the reset hook `sh -c" in text and "failed with exit code 3" in text, text
    assert "cannot reset: read-only replica" in text
    assert "fix `reset` in [services.cache]" in text and "the next run starts a fresh stack" in text


def test_http_and_tcp_checks_without_a_hook_are_noted_not_reset(live: Live) -> None:
    from ci_toolkit.config import ServiceCheck
    from ci_toolkit.reuse.reset import Baseline, reset

    _redis(live).set("kept", "1")
    checks = [
        ServiceCheck("cache", "tcp", 6379, TIMEOUT),
        ServiceCheck("web", "http", 8080, TIMEOUT, path="/health"),
        ServiceCheck("bus", "http", 8222, TIMEOUT, reset=("true",)),  # a hook: reset, not noted
    ]
    done: list[str] = []
    notes = reset(
        checks,
        live.services,
        Baseline(),
        live.stack,
        timeout=TIMEOUT,
        on_reset=lambda s, w, _: done.append(s),
    )
    assert notes == [
        "cache: not reset (no reset hook; see README 'Fast re-runs')",
        "web: not reset (no reset hook; see README 'Fast re-runs')",
    ]
    assert done == ["bus"]
    assert _redis(live).get("kept") == b"1"


def test_what_cannot_be_put_back_fails_the_reset_before_anything_is_dropped(live: Live) -> None:
    from ci_toolkit.errors import InfrastructureError
    from ci_toolkit.reuse.reset import reset, take_baseline, wait_for_background

    _migrate(live)
    baseline = take_baseline(live.checks, live.services, timeout=TIMEOUT)
    assert wait_for_background(TIMEOUT)
    _sql(live.dsn(), "INSERT INTO orders VALUES (2, 'written by a test')")
    _sql(live.dsn("postgres"), "DROP DATABASE app_citk_template")

    async def drop_base(js: Any) -> None:
        await js.delete_stream("BASE")

    _nats(live, drop_base)
    with pytest.raises(InfrastructureError) as info:
        reset(live.checks, live.services, baseline, live.stack, timeout=TIMEOUT)
    text = str(info.value)
    assert "reset failed for 2 services" in text, text
    assert (
        "db: reset failed: the template database app_citk_template (taken after migrations) is gone" in text
    )
    assert "bus: reset failed: stream BASE (present after migrations) was deleted" in text
    assert "the lease is discarded; the next run starts a fresh stack" in text
    # Nothing was dropped on the way: the database is as the tests left it.
    assert _sql(live.dsn(), "SELECT count(*) FROM orders") == [(2,)]


def test_jetstream_lists_are_read_over_every_page(live: Live) -> None:
    """STREAM.LIST answers 256 streams a page: a reset sees (and deletes) the ones after it too."""
    from ci_toolkit.reuse.reset import reset, take_baseline

    _migrate(live)
    baseline = take_baseline([live.checks[2]], live.services, timeout=TIMEOUT)

    async def many(js: Any) -> None:
        from nats.js.api import StorageType

        for n in range(300):
            await js.add_stream(name=f"S{n:03}", subjects=[f"s{n:03}.>"], storage=StorageType.MEMORY)

    _nats(live, many)
    done: list[str] = []
    reset(
        [live.checks[2]],
        live.services,
        baseline,
        live.stack,
        timeout=TIMEOUT,
        on_reset=lambda s, w, _: done.append(w),
    )
    assert done == ["JetStream: 300 streams deleted, 0 purged, 0 consumers deleted, 0 recreated"]
    assert _nats(live, _streams) == {"BASE": ({"worker"}, 0)}


async def _migrate_a_log(js: Any) -> None:
    """Migrations that leave messages behind: LOG (limits retention) holds three, with a durable
    pull consumer that has read none of them and a durable push consumer made by name (2.9+)."""
    from nats.js.api import AckPolicy, ConsumerConfig

    for info in await js.streams_info():
        await js.delete_stream(info.config.name)
    await js.add_stream(name="LOG", subjects=["log.>"])
    for n in range(3):
        await js.publish("log.entry", f"migrated {n}".encode())
    await js.add_consumer("LOG", durable_name="reader", ack_policy=AckPolicy.EXPLICIT, max_ack_pending=100)
    await js.add_consumer(
        "LOG", ConsumerConfig(name="pusher", durable_name="pusher", deliver_subject="push.log")
    )


async def _fetch(js: Any, count: int, *, ack: bool = True) -> list[str]:
    """What a test sees: the next `count` messages of LOG's reader (fewer if it has no more)."""
    from nats.errors import TimeoutError as NatsTimeout

    sub = await js.pull_subscribe_bind("reader", stream="LOG")
    try:
        messages = await sub.fetch(count, timeout=1)
    except (NatsTimeout, TimeoutError):
        return []
    finally:
        await sub.unsubscribe()
    for message in messages:
        if ack:
            await message.ack_sync()
    return [m.data.decode() for m in messages]


def test_a_baseline_consumer_gets_the_baseline_messages_again_after_a_reset(live: Live) -> None:
    """Tests that read and ack what migrations published change no message count: without the
    reset recreating the consumer, the next run's would start where the last one stopped."""
    from nats.js.api import ConsumerConfig

    from ci_toolkit.reuse.reset import Baseline, reset, take_baseline

    _nats(live, _migrate_a_log)
    bus = [live.checks[2]]
    taken = take_baseline(bus, live.services, timeout=TIMEOUT)
    baseline = Baseline.from_dict(json.loads(json.dumps(taken.to_dict())))  # as the lease keeps it
    assert baseline == taken
    assert baseline.nats["bus"].streams["LOG"].consumers["reader"].delivered == 0

    async def touch_the_consumers(js: Any) -> None:  # what else tests may do to them
        await js.add_consumer("LOG", durable_name="reader", ack_policy="explicit", max_ack_pending=7)
        await js.delete_consumer("LOG", "pusher")

    def reset_bus() -> str:
        done: list[str] = []
        reset(
            bus, live.services, baseline, live.stack, timeout=TIMEOUT, on_reset=lambda s, w, _: done.append(w)
        )
        return done[0]

    for run in range(3):
        assert _nats(live, lambda js: _fetch(js, 2)) == ["migrated 0", "migrated 1"], f"run {run}"
        if run == 1:
            _nats(live, touch_the_consumers)
        recreated = "2 recreated" if run == 1 else "1 recreated"
        assert reset_bus() == f"JetStream: 0 streams deleted, 0 purged, 0 consumers deleted, {recreated}"

    assert _nats(live, lambda js: _fetch(js, 5, ack=False)) == ["migrated 0", "migrated 1", "migrated 2"]
    assert reset_bus().endswith("1 recreated")  # delivered, not acked: moved all the same

    async def consumers(js: Any) -> dict[str, tuple[int, int, Any]]:
        found = {}
        for c in await js.consumers_info("LOG"):
            found[c.name] = (c.num_pending, c.delivered.stream_seq, c.config.max_ack_pending)
        return found

    assert _nats(live, consumers) == {"reader": (3, 0, 100), "pusher": (3, 0, 1000)}
    assert reset_bus() == "JetStream: 0 streams deleted, 0 purged, 0 consumers deleted, 0 recreated"
    pusher = _nats(live, lambda js: js.consumer_info("LOG", "pusher")).config
    assert pusher == ConsumerConfig.from_response(
        dict(baseline.nats["bus"].streams["LOG"].consumers["pusher"].config)
    )


def test_a_changed_stream_configuration_fails_the_reset(live: Live) -> None:
    from nats.js.api import StreamConfig

    from ci_toolkit.errors import ExitCode, InfrastructureError
    from ci_toolkit.reuse.reset import reset, take_baseline

    _nats(live, _migrate_a_log)
    bus = [live.checks[2]]
    baseline = take_baseline(bus, live.services, timeout=TIMEOUT)
    _nats(live, lambda js: _fetch(js, 1))

    async def widen(js: Any) -> None:
        await js.update_stream(StreamConfig(name="LOG", subjects=["log.>", "audit.>"]))

    _nats(live, widen)
    with pytest.raises(InfrastructureError) as info:
        reset(bus, live.services, baseline, live.stack, timeout=TIMEOUT)
    assert info.value.exit_code == ExitCode.INFRASTRUCTURE
    assert str(info.value).startswith(
        "bus: reset failed: the configuration of stream LOG changed since the baseline"
    ), str(info.value)
    assert info.value.hint == "the lease is discarded; the next run starts a fresh stack"
    # Refused before anything was done: the consumer was not recreated.
    assert _nats(live, lambda js: _fetch(js, 5, ack=False)) == ["migrated 1", "migrated 2"]


def test_a_consumer_position_that_migrations_moved_cannot_be_recreated(live: Live) -> None:
    """Migrations that read from their own durable leave it past its deliver policy's start,
    where no create request can put it: the reset says so (and the lease is replaced)."""
    from ci_toolkit.errors import InfrastructureError
    from ci_toolkit.reuse.reset import reset, take_baseline

    _nats(live, _migrate_a_log)
    assert _nats(live, lambda js: _fetch(js, 1)) == ["migrated 0"]  # in the migrations
    bus = [live.checks[2]]
    baseline = take_baseline(bus, live.services, timeout=TIMEOUT)
    _nats(live, lambda js: _fetch(js, 1))
    with pytest.raises(InfrastructureError) as info:
        reset(bus, live.services, baseline, live.stack, timeout=TIMEOUT)
    assert info.value.message == (
        "bus: reset failed: consumer reader of stream LOG had delivered up to stream sequence 1 "
        "(ack floor 1) after migrations; recreated, it starts at 0 (ack floor 0): "
        "a consumer's position cannot be set"
    )
