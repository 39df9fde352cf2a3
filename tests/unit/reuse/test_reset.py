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
from ci_toolkit.reuse.reset_nats import ConsumerBaseline, config_sha256, create_request, plan
from ci_toolkit.reuse.reset_postgres import maintenance_database, suffixed
from ci_toolkit.stack.compose import Stack
from ci_toolkit.stack.pgwire import quote_ident, quote_literal

STACK = Stack("citk-test-never-started", (Path("compose.yaml"),))
SERVICES = {
    "db": ServiceResult(0.1, "127.0.0.1", {5432: 1}),
    "bus": ServiceResult(0.1, "127.0.0.1", {4222: 1}),
}


WORKER = {"durable_name": "worker", "deliver_policy": "all", "ack_policy": "explicit", "max_deliver": -1}
READER = {"durable_name": "reader", "name": "reader", "deliver_policy": "all", "ack_policy": "explicit"}
ORDERS_CONFIG = {"name": "ORDERS", "subjects": ["orders.>"], "retention": "limits"}
KV_CONFIG = {"name": "KV_seed", "subjects": ["$KV.seed.>"], "max_msgs_per_subject": 1}


def _stream(
    config: dict[str, Any], messages: int, last_seq: int, **consumers: ConsumerBaseline
) -> StreamBaseline:
    return StreamBaseline(consumers, messages, last_seq, config_sha256(config))


def _baseline() -> Baseline:
    """ORDERS: empty after migrations (4 messages came and went), a durable `worker` past them;
    KV_seed: two keys, a durable `reader` that has read neither."""
    return Baseline(
        postgres={"db": PgBaseline("app", "app_citk_template", "test")},
        nats={
            "bus": NatsBaseline(
                {
                    "ORDERS": _stream(ORDERS_CONFIG, 0, 4, worker=ConsumerBaseline(WORKER, 4, 4)),
                    "KV_seed": _stream(KV_CONFIG, 2, 2, reader=ConsumerBaseline(READER, 0, 0)),
                }
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
        {"version": 1, "postgres": {}, "nats": {"bus": {"streams": {"S": {"consumers": {"w": {}}}}}}},
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


def test_a_jetstream_baseline_recorded_by_an_older_ci_toolkit_discards_the_lease() -> None:
    """Version 1 kept consumer names only: without their configurations none can be recreated."""
    old = {"consumers": ["worker"], "messages": 0, "last_seq": 4}
    with pytest.raises(InfrastructureError) as info:
        Baseline.from_dict({"version": 1, "postgres": {}, "nats": {"bus": {"streams": {"ORDERS": old}}}})
    assert "consumers were recorded without their configuration" in str(info.value)
    assert info.value.hint == "the lease is discarded; the next run starts a fresh stack"


def _now(**changes: StreamBaseline) -> dict[str, StreamBaseline]:
    """The streams as the baseline left them, with `changes`."""
    return {**_baseline().nats["bus"].streams, **changes}


def test_jetstream_plan_deletes_what_is_new_and_purges_what_was_empty() -> None:
    baseline = _baseline().nats["bus"].streams
    other = _stream({"name": "NEW"}, 1, 1)
    current = _now(
        ORDERS=_stream(ORDERS_CONFIG, 3, 7, worker=ConsumerBaseline(WORKER, 4, 4)),
        NEW=other,
        KV_settings=other,
        OBJ_files=other,
    )
    todo = plan(baseline, current)
    assert todo.delete_streams == ("KV_settings", "NEW", "OBJ_files")
    assert todo.purge_streams == ("ORDERS",)  # empty after migrations: its messages are the tests'
    assert (todo.delete_consumers, todo.recreate_consumers, todo.problems) == ((), (), ())
    assert plan(baseline, _now()) == plan(baseline, baseline)
    assert plan(baseline, _now()).purge_streams == ()


def test_jetstream_plan_refuses_what_it_cannot_put_back() -> None:
    baseline = _baseline().nats["bus"].streams
    changed = {**ORDERS_CONFIG, "max_age": 60_000_000_000}
    todo = plan(baseline, {"KV_seed": _stream(KV_CONFIG, 3, 3), "ORDERS": _stream(changed, 0, 4)})
    assert todo.problems == (
        "stream KV_seed held 2 messages after migrations (last sequence 2) and now holds 3 "
        "(last sequence 3); only the oldest messages can be purged",
        "the configuration of stream ORDERS changed since the baseline",
    )
    assert plan(baseline, {"KV_seed": baseline["KV_seed"]}).problems == (
        "stream ORDERS (present after migrations) was deleted",
    )


def test_consumers_made_after_the_baseline_are_deleted() -> None:
    baseline = _baseline().nats["bus"].streams
    made = ConsumerBaseline({"durable_name": "test-0"}, 0, 0)
    now = _stream(
        ORDERS_CONFIG, 0, 4, worker=baseline["ORDERS"].consumers["worker"], **{"test-1": made, "test-0": made}
    )
    todo = plan(baseline, _now(ORDERS=now))
    assert todo.delete_consumers == (("ORDERS", "test-0"), ("ORDERS", "test-1"))
    assert todo.recreate_consumers == todo.replace_consumers == ()


@pytest.mark.parametrize(
    ("reader", "why"),
    [
        (ConsumerBaseline(READER, 2, 2), "read and acked both messages"),
        (ConsumerBaseline(READER, 2, 0), "read both, acked none"),
        (ConsumerBaseline(READER, 0, 1), "ack floor alone"),
        (ConsumerBaseline({**READER, "max_ack_pending": 1}, 0, 0), "its configuration was changed"),
    ],
)
def test_a_baseline_consumer_that_moved_or_changed_is_deleted_and_recreated(
    reader: ConsumerBaseline, why: str
) -> None:
    baseline = _baseline().nats["bus"].streams
    todo = plan(baseline, _now(KV_seed=_stream(KV_CONFIG, 2, 2, reader=reader)))
    assert todo.recreate_consumers == todo.replace_consumers == (("KV_seed", "reader"),), why
    assert todo.delete_consumers == todo.problems == ()


def test_a_baseline_consumer_that_was_deleted_is_recreated() -> None:
    baseline = _baseline().nats["bus"].streams
    todo = plan(baseline, _now(KV_seed=_stream(KV_CONFIG, 2, 2)))
    assert todo.recreate_consumers == (("KV_seed", "reader"),)
    assert todo.replace_consumers == todo.problems == ()


def test_on_a_stream_empty_at_the_baseline_a_consumer_past_what_the_purge_removes_is_as_it_was() -> None:
    """The purge up to sequence 9 moves every consumer of ORDERS to 9: one that read the tests'
    messages (5-9), acked or not, is where the baseline's would be. One that went backwards, or
    whose metadata the server filled in, is not recreated either; one reconfigured is."""
    baseline = _baseline().nats["bus"].streams
    stamped = {**WORKER, "metadata": {"_nats.ver": "2.11.0", "_nats.level": "1"}}
    for worker in (
        ConsumerBaseline(WORKER, 9, 9),
        ConsumerBaseline(WORKER, 7, 5),
        ConsumerBaseline(stamped, 4, 4),
    ):
        todo = plan(baseline, _now(ORDERS=_stream(ORDERS_CONFIG, 5, 9, worker=worker)))
        assert todo.purge_streams == ("ORDERS",)
        assert todo.recreate_consumers == (), worker
    changed = ConsumerBaseline({**WORKER, "ack_wait": 1}, 9, 9)
    todo = plan(baseline, _now(ORDERS=_stream(ORDERS_CONFIG, 0, 9, worker=changed)))
    assert todo.recreate_consumers == (("ORDERS", "worker"),)


def test_the_name_the_server_writes_into_a_consumer_configuration_is_no_change() -> None:
    """CONSUMER.CREATE (a client updating a durable, 2.9+) writes `name` into its configuration."""
    baseline = _baseline().nats["bus"].streams
    named = ConsumerBaseline({**WORKER, "name": "worker"}, 4, 4)
    assert plan(baseline, _now(ORDERS=_stream(ORDERS_CONFIG, 0, 4, worker=named))).recreate_consumers == ()


def test_server_set_metadata_is_no_change_of_a_stream_configuration() -> None:
    stamped = {**ORDERS_CONFIG, "metadata": {"_nats.req.level": "0", "team": "a"}}
    assert config_sha256(stamped) == config_sha256({**ORDERS_CONFIG, "metadata": {"team": "a"}})
    assert config_sha256(stamped) != config_sha256(ORDERS_CONFIG)
    assert config_sha256({**ORDERS_CONFIG, "metadata": {"_nats.ver": "2.11.0"}}) == config_sha256(
        ORDERS_CONFIG
    )


def test_a_consumer_is_recreated_by_the_api_that_made_it_without_server_set_metadata() -> None:
    api, body = create_request("ORDERS", "worker", {**WORKER, "metadata": {"_nats.ver": "2.11.0"}})
    assert api == "CONSUMER.DURABLE.CREATE.ORDERS.worker"  # no `name` in its configuration
    assert body == {"stream_name": "ORDERS", "config": WORKER}
    api, body = create_request("KV_seed", "reader", READER)
    assert api == "CONSUMER.CREATE.KV_seed.reader"  # 2.9+: `name` was written into the configuration
    assert body == {"stream_name": "KV_seed", "config": READER, "action": "create"}
    unnamed = {"deliver_policy": "new", "ack_policy": "none"}  # made by CONSUMER.CREATE.<stream>
    assert create_request("S", "Xy7", unnamed)[0] == "CONSUMER.CREATE.S.Xy7"


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
