"""The reset's decisions without a server: what the lease keeps, the names of the copies, what
a JetStream reset deletes or refuses, and what is noted rather than reset."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.config import ServiceCheck
from ci_toolkit.errors import ExitCode, InfrastructureError
from ci_toolkit.results.model import ServiceResult
from ci_toolkit.reuse.reset import Baseline, NatsBaseline, PgBaseline, StreamBaseline, reset
from ci_toolkit.reuse.reset_nats import consumer_changes, plan
from ci_toolkit.reuse.reset_postgres import maintenance_database, suffixed
from ci_toolkit.stack.compose import Stack
from ci_toolkit.stack.pgwire import quote_ident, quote_literal

STACK = Stack("citk-test-never-started", (Path("compose.yaml"),))
SERVICES = {
    "db": ServiceResult(0.1, "127.0.0.1", {5432: 1}),
    "bus": ServiceResult(0.1, "127.0.0.1", {4222: 1}),
}


def _baseline() -> Baseline:
    return Baseline(
        postgres={"db": PgBaseline("app", "app_citk_template", "test")},
        nats={
            "bus": NatsBaseline(
                {"ORDERS": StreamBaseline(("worker",), 0, 4), "KV_seed": StreamBaseline((), 2, 2)}
            )
        },
    )


def test_the_baseline_survives_the_lease_json() -> None:
    baseline = _baseline()
    assert Baseline.from_dict(json.loads(json.dumps(baseline.to_dict()))) == baseline
    assert Baseline.from_dict(Baseline().to_dict()) == Baseline()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"version": 99, "postgres": {}, "nats": {}},
        {"version": 1, "postgres": {"db": {"database": "app"}}, "nats": {}},
        {"version": 1, "postgres": {}, "nats": {"bus": {"streams": {"S": {"consumers": 3}}}}},
        {"version": 1, "postgres": [], "nats": {}},
    ],
)
def test_an_unreadable_baseline_is_an_infrastructure_error_that_discards_the_lease(
    data: dict[str, Any],
) -> None:
    with pytest.raises(InfrastructureError) as info:
        Baseline.from_dict(data)
    assert info.value.exit_code == ExitCode.INFRASTRUCTURE
    assert "the lease's reset baseline is unreadable" in str(info.value)
    assert info.value.hint == "the lease is discarded; the next run starts a fresh stack"


def test_copy_names_fit_postgres_identifiers_and_stay_apart() -> None:
    assert suffixed("app", "_citk_template") == "app_citk_template"
    long_a, long_b = "a" * 60 + "_one", "a" * 60 + "_two"
    names = {suffixed(n, "_citk_template") for n in (long_a, long_b)}
    assert len(names) == 2
    assert all(len(n.encode()) <= 63 and n.endswith("_citk_template") for n in names)
    wide = suffixed("ü" * 40, "_citk_spare")  # 80 bytes: cut between characters, not inside one
    assert len(wide.encode()) <= 63 and wide.startswith("ü") and wide.endswith("_citk_spare")


def test_the_maintenance_database_is_never_the_one_reset() -> None:
    assert maintenance_database("app") == "postgres"
    assert maintenance_database("postgres") == "template1"


def test_identifiers_and_literals_are_quoted_whatever_they_hold() -> None:
    assert quote_ident('My "db"') == '"My ""db"""'
    assert quote_literal("it's") == "'it''s'"
    assert quote_literal("a\\b'") == "E'a\\\\b'''"
    with pytest.raises(ValueError, match="NUL"):
        quote_ident("a\0b")


def test_jetstream_plan_deletes_what_is_new_and_purges_what_was_empty() -> None:
    baseline = _baseline().nats["bus"].streams
    current = {"ORDERS": (3, 7), "KV_seed": (2, 2), "NEW": (1, 1), "KV_settings": (4, 4), "OBJ_files": (2, 2)}
    todo = plan(baseline, current)
    assert todo.delete_streams == ("KV_settings", "NEW", "OBJ_files")
    assert todo.purge_streams == ("ORDERS",)  # empty after migrations: its messages are the tests'
    assert todo.problems == ()
    assert plan(baseline, {"ORDERS": (0, 4), "KV_seed": (2, 2)}).purge_streams == ()


def test_jetstream_plan_refuses_what_it_cannot_put_back() -> None:
    baseline = _baseline().nats["bus"].streams
    todo = plan(baseline, {"KV_seed": (3, 3)})
    assert todo.problems == (
        "stream ORDERS (present after migrations) was deleted",
        "stream KV_seed held 2 messages after migrations (last sequence 2) and now holds 3 "
        "(last sequence 3); only the oldest messages can be purged",
    )


def test_consumers_made_after_the_baseline_are_deleted_and_lost_ones_refused() -> None:
    baseline = _baseline().nats["bus"].streams
    extra, problems = consumer_changes(baseline, {"ORDERS": ["worker", "test-1", "test-0"], "KV_seed": []})
    assert extra == [("ORDERS", "test-0"), ("ORDERS", "test-1")]
    assert problems == []
    _, problems = consumer_changes(baseline, {"ORDERS": [], "KV_seed": []})
    assert problems == ["consumer worker of stream ORDERS (present after migrations) was deleted"]


def test_http_and_tcp_checks_without_a_hook_are_noted_and_nothing_is_contacted() -> None:
    checks = [ServiceCheck("web", "http", 8080, 5), ServiceCheck("minio", "tcp", 9000, 5)]
    called: list[str] = []
    notes = reset(checks, {}, Baseline(), STACK, timeout=1, on_reset=lambda s, w, t: called.append(s))
    assert notes == [
        "web: not reset (no reset hook; see README 'Fast re-runs')",
        "minio: not reset (no reset hook; see README 'Fast re-runs')",
    ]
    assert called == []


def test_a_service_the_lease_has_no_baseline_for_cannot_be_reset() -> None:
    check = ServiceCheck("db", "postgres", 5432, 5, database="app")
    with pytest.raises(
        InfrastructureError, match="db: cannot reset postgres: the lease recorded no baseline"
    ):
        reset([check], SERVICES, Baseline(), STACK, timeout=1)
    unpublished = ServiceCheck("bus", "nats", 4223, 5, jetstream=True)
    with pytest.raises(InfrastructureError, match="bus: container port 4223 is not published"):
        reset([unpublished], SERVICES, _baseline(), STACK, timeout=1)


def test_services_that_do_not_answer_are_all_named_in_one_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    checks = [
        ServiceCheck("db", "postgres", 5432, 5, database="app"),
        ServiceCheck("cache", "redis", 6379, 5),
        ServiceCheck("bus", "nats", 4222, 5, jetstream=True),
    ]
    services = {c.name: ServiceResult(0.1, "127.0.0.1", {c.port: closed}) for c in checks}
    with pytest.raises(InfrastructureError) as info:
        reset(checks, services, _baseline(), STACK, timeout=2)
    text = str(info.value)
    assert text.startswith("reset failed for 3 services:"), text
    assert f"db: reset failed: could not connect to 127.0.0.1:{closed}:" in text
    assert "cache: reset failed: ConnectionRefusedError:" in text
    assert "bus: reset failed: ConnectionRefusedError:" in text
    assert info.value.hint == "the lease is discarded; the next run starts a fresh stack"
