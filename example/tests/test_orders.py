"""The example's integration tests: each talks to a real service of the stack."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from typing import Any

import psycopg
import pytest
import redis

from example import orders


def test_migrations_created_and_seeded_the_schema(db: psycopg.Connection[Any]) -> None:
    emails = [r[0] for r in db.execute("SELECT email FROM customers ORDER BY id")]
    assert emails[:2] == ["ada@example.com", "grace@example.com"]
    applied = [r[0] for r in db.execute("SELECT name FROM ci_toolkit_migrations ORDER BY version")]
    assert applied[:2] == ["001_create_orders.sql", "002_seed_customers.sql"]


@pytest.mark.destructive  # places an order: changes shared data
def test_order_total_is_cached_in_redis(db: psycopg.Connection[Any], cache: redis.Redis) -> None:
    email = "ada@example.com"
    before = orders.customer_total(db, cache, email)
    orders.place_order(db, cache, email, 1250)
    assert cache.get(f"customer-total:{email}") is None  # invalidated by the new order
    assert orders.customer_total(db, cache, email) == before + 1250
    assert int(cache.get(f"customer-total:{email}") or 0) == before + 1250


def test_unknown_customer_is_rejected(db: psycopg.Connection[Any], cache: redis.Redis) -> None:
    with pytest.raises(LookupError):
        orders.place_order(db, cache, "nobody@example.com", 100)


def test_redis_set_get(cache: redis.Redis) -> None:
    key = f"example:{uuid.uuid4()}"
    cache.set(key, "value", ex=30)
    assert cache.get(key) == b"value"


@pytest.mark.slow  # creates a JetStream stream and a durable consumer
def test_order_event_round_trips_through_jetstream(nats_url: str) -> None:
    import nats

    stream = os.environ.get("EXAMPLE_STREAM", "ORDERS")

    async def scenario() -> dict[str, Any]:
        nc = await nats.connect(nats_url, connect_timeout=5)
        try:
            js = nc.jetstream()
            await js.add_stream(name=stream, subjects=["orders.>"])
            ack = await js.publish("orders.created", orders.order_event(7, "ada@example.com", 990))
            assert ack.stream == stream
            sub = await js.pull_subscribe("orders.created", durable="example-test")
            (msg,) = await sub.fetch(1, timeout=5)
            await msg.ack()
            return dict(json.loads(msg.data))
        finally:
            await nc.close()

    event = asyncio.run(scenario())
    assert event == {"order_id": 7, "email": "ada@example.com", "total_cents": 990}


def test_postgres_server_version(db: psycopg.Connection[Any]) -> None:
    expected = _expected_postgres_major()
    (version,) = db.execute("SHOW server_version_num").fetchone() or ("0",)
    major = int(version) // 10000
    assert major >= 15
    if expected:
        assert major == expected, f"server is PostgreSQL {major}, the matrix cell wants {expected}"


def _expected_postgres_major() -> int | None:
    """EXPECT_POSTGRES_MAJOR (a matrix cell sets it), else the tag of POSTGRES_IMAGE (the compose
    variable a matrix cell sets: postgres:17 -> 17), else no expectation."""
    expected = os.environ.get("EXPECT_POSTGRES_MAJOR")
    if expected:
        return int(expected)
    image = os.environ.get("POSTGRES_IMAGE", "")
    tag = re.match(r"\d+", image.rpartition(":")[2]) if ":" in image else None
    return int(tag.group()) if tag else None


@pytest.mark.skipif(not os.environ.get("EXAMPLE_FAIL"), reason="set EXAMPLE_FAIL=1 to see a failing run")
def test_fails_on_request(db: psycopg.Connection[Any]) -> None:
    """Opt-in red run (EXAMPLE_FAIL=1): what a failure looks like in CI, and that it reproduces."""
    (customers,) = db.execute("SELECT count(*) FROM customers").fetchone() or (0,)
    assert customers == 0, f"EXAMPLE_FAIL is set: failing on purpose ({customers} customers seeded)"


@pytest.mark.skipif(not os.environ.get("EXAMPLE_FLAKY"), reason="set EXAMPLE_FLAKY=1 to see a flaky test")
def test_flaky_on_request(cache: redis.Redis) -> None:
    """Opt-in flaky test (EXAMPLE_FLAKY=1) for `ci-toolkit soak`: fails on odd iterations
    (CI_TOOLKIT_ITERATION, which soak exports), passes on even ones."""
    iteration = int(os.environ.get("CI_TOOLKIT_ITERATION", "1"))
    assert cache.ping()
    assert iteration % 2 == 0, f"EXAMPLE_FLAKY is set: failing on odd iteration {iteration} on purpose"
