"""Tests that collide when pytest-xdist workers share data: each one, while it runs, owns the rows
of a table and a Redis key space, and asserts that it sees only its own.

With `--workers N` ci-toolkit gives every worker a database of its own (DATABASE_URL ends in
`app_{worker}`: a copy of the migrated `app` per worker) and a Redis database index of its own
(REDIS_URL ends in `{worker.index}`), so these pass; with one database for all workers they fail.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import psycopg
import pytest
import redis

ROWS = 5
# Under xdist each test holds its data for a second, so that two workers sharing a database
# overlap for certain (this module comes first, and xdist starts each worker on its own part of
# it); without xdist nothing runs alongside, so there is nothing to wait for.
HOLD_SECONDS = 1.0 if os.environ.get("PYTEST_XDIST_WORKER") else 0.0


@pytest.fixture
def owned_rows(db: psycopg.Connection[Any]) -> str:
    """The table the tests own rows of, made by whichever test comes first (no migration for it)."""
    with db.transaction():
        # Two concurrent CREATE TABLE IF NOT EXISTS can both try to create it: one at a time.
        db.execute("SELECT pg_advisory_xact_lock(hashtext('example_owned_rows'))")
        db.execute("CREATE TABLE IF NOT EXISTS owned_rows (owner text NOT NULL, n integer NOT NULL)")
    return "owned_rows"


@pytest.mark.destructive  # writes rows and keys (its own, and removes them)
@pytest.mark.parametrize("part", ["a", "b", "c", "d"])
def test_a_worker_sees_only_its_own_rows_and_keys(
    db: psycopg.Connection[Any], cache: redis.Redis, owned_rows: str, part: str
) -> None:
    mine = f"{part}-{uuid.uuid4().hex[:8]}"
    keys = [f"owned:{mine}:{n}" for n in range(ROWS)]
    db.execute("INSERT INTO owned_rows SELECT %s, n FROM generate_series(1, %s) AS n", (mine, ROWS))
    for key in keys:
        cache.set(key, mine, ex=60)
    try:
        deadline = time.monotonic() + HOLD_SECONDS
        while True:
            rows = dict(db.execute("SELECT owner, count(*) FROM owned_rows GROUP BY owner").fetchall())
            seen = sorted(k.decode() for k in cache.scan_iter(match="owned:*", count=1000))
            problems = []
            if rows != {mine: ROWS}:
                problems.append(f"table owned_rows holds {rows}, not just my {ROWS} rows")
            if seen != sorted(keys):
                problems.append(f"Redis holds {len(seen)} owned:* keys, not just my {ROWS}")
            assert not problems, "; ".join(problems) + f" (I am {mine}): another worker shares my data"
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
    finally:
        db.execute("DELETE FROM owned_rows WHERE owner = %s", (mine,))
        cache.delete(*keys)
