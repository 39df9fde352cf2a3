"""Connections to the live stack. ci-toolkit exports DATABASE_URL, REDIS_URL and NATS_URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run these tests through `ci-toolkit integration-run`")
    return value


@pytest.fixture
def db() -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(_env("DATABASE_URL"), autocommit=True) as conn:
        yield conn


@pytest.fixture
def cache() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(_env("REDIS_URL"))
    yield client
    client.close()


@pytest.fixture
def nats_url() -> str:
    return _env("NATS_URL")
