"""The example's integration tests: each talks to a real service of the stack."""

from __future__ import annotations

import asyncio
import json
import os
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
    expected = os.environ.get("EXPECT_POSTGRES_MAJOR")
    (version,) = db.execute("SHOW server_version_num").fetchone() or ("0",)
    major = int(version) // 10000
    assert major >= 15
    if expected:
        assert major == int(expected)
