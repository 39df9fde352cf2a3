"""JetStream back to its baseline, over the raw NATS client protocol (no nats-py import: the
reset has a budget of milliseconds). Requests to `$JS.API` are pipelined: every request of a
step goes out at once and the replies are matched by their reply subject, so a step costs one
round trip however many streams or consumers it touches (a reset: one to look, one to delete
and purge, one to recreate consumers, the last two only when needed).

KV buckets and object stores are streams (`KV_<bucket>`, `OBJ_<store>`), so they are covered
by the stream rules: created after the baseline -> deleted; present at the baseline -> kept.
A baseline consumer that moved (its delivered or ack floor stream sequence), changed or was
deleted is recreated from the configuration recorded at the baseline, so it starts again from
its deliver policy; a baseline stream whose configuration changed cannot be put back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ci_toolkit.reuse.jetstream import CONSUMER_NOT_FOUND as _CONSUMER_NOT_FOUND
from ci_toolkit.reuse.jetstream import STREAM_NOT_FOUND as _STREAM_NOT_FOUND
from ci_toolkit.reuse.jetstream import JetStream, NatsResetError

__all__ = [
    "ConsumerBaseline",
    "JetStream",
    "NatsResetError",
    "Plan",
    "StreamBaseline",
    "plan",
    "reset",
    "take",
]


@dataclass(frozen=True)
class ConsumerBaseline:
    """One consumer: its configuration as JetStream returns it, and how far it got."""

    config: Mapping[str, Any]
    delivered: int  # delivered.stream_seq
    ack_floor: int  # ack_floor.stream_seq

    def to_dict(self) -> dict[str, Any]:
        return {"config": dict(self.config), "delivered": self.delivered, "ack_floor": self.ack_floor}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConsumerBaseline:
        return cls(dict(data["config"]), int(data["delivered"]), int(data["ack_floor"]))

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> ConsumerBaseline:
        """From a CONSUMER.INFO / CONSUMER.LIST / CONSUMER.CREATE answer."""
        delivered, floor = info.get("delivered") or {}, info.get("ack_floor") or {}
        return cls(info["config"], int(delivered.get("stream_seq", 0)), int(floor.get("stream_seq", 0)))


@dataclass(frozen=True)
class StreamBaseline:
    """One stream as it was right after migrations (or as it is now, to compare)."""

    consumers: Mapping[str, ConsumerBaseline]
    messages: int
    last_seq: int
    config_sha256: str  # of its configuration, server-set metadata left out

    def to_dict(self) -> dict[str, Any]:
        return {
            "consumers": {name: c.to_dict() for name, c in sorted(self.consumers.items())},
            "messages": self.messages,
            "last_seq": self.last_seq,
            "config_sha256": self.config_sha256,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StreamBaseline:
        consumers = data["consumers"]
        if not isinstance(consumers, Mapping):  # a list of names: recorded by an older ci-toolkit
            raise ValueError("a JetStream stream's consumers were recorded without their configuration")
        return cls(
            {str(name): ConsumerBaseline.from_dict(c) for name, c in consumers.items()},
            int(data["messages"]),
            int(data["last_seq"]),
            str(data["config_sha256"]),
        )


@dataclass(frozen=True)
class Plan:
    """What a reset does to one server, from the baseline and what is there now (pure)."""

    delete_streams: tuple[str, ...]
    purge_streams: tuple[str, ...]
    delete_consumers: tuple[tuple[str, str], ...]  # (stream, consumer) made after the baseline
    recreate_consumers: tuple[tuple[str, str], ...]  # baseline consumers not as they were
    replace_consumers: tuple[tuple[str, str], ...]  # of those, the ones still there: deleted first
    problems: tuple[str, ...]  # what cannot be put back: the reset fails with these


def plan(baseline: Mapping[str, StreamBaseline], current: Mapping[str, StreamBaseline]) -> Plan:
    """Streams made after the baseline are deleted; a baseline stream that was empty and has
    messages now is purged; one that had messages and changed, or whose configuration changed,
    cannot be put back (JetStream purges only from the oldest end). Consumers: see module doc."""
    delete = tuple(sorted(name for name in current if name not in baseline))
    problems = [
        f"stream {name} (present after migrations) was deleted"
        for name in sorted(baseline)
        if name not in current
    ]
    purge: list[str] = []
    extra: list[tuple[str, str]] = []
    recreate: list[tuple[str, str]] = []
    for name, was in sorted(baseline.items()):
        if name not in current:
            continue
        now = current[name]
        if now.config_sha256 != was.config_sha256:
            problems.append(f"the configuration of stream {name} changed since the baseline")
        if was.messages == 0:
            if now.messages:
                purge.append(name)
        elif (now.messages, now.last_seq) != (was.messages, was.last_seq):
            problems.append(
                f"stream {name} held {was.messages} messages after migrations (last sequence {was.last_seq}) "
                f"and now holds {now.messages} (last sequence {now.last_seq}); "
                "only the oldest messages can be purged"
            )
        floor = settled_floor(was, now)
        extra += [(name, c) for c in sorted(now.consumers) if c not in was.consumers]
        for c, consumer in sorted(was.consumers.items()):
            if c not in now.consumers or not same_consumer(consumer, now.consumers[c], floor):
                recreate.append((name, c))
    replace = tuple((s, c) for s, c in recreate if c in current[s].consumers)
    return Plan(delete, tuple(purge), tuple(extra), tuple(recreate), replace, tuple(problems))


def settled_floor(was: StreamBaseline, now: StreamBaseline) -> int:
    """The stream sequence below which a consumer's position makes no difference. A stream empty
    at the baseline is empty again after the reset (purged up to its last sequence, which moves
    every consumer past it), so any position up to there is the baseline's; else none."""
    return now.last_seq if was.messages == 0 else 0


def same_consumer(was: ConsumerBaseline, now: ConsumerBaseline, floor: int) -> bool:
    """The same configuration (server-set fields aside) and, past `floor`, the same position."""
    return comparable(was.config) == comparable(now.config) and position(was, floor) == position(now, floor)


def position(consumer: ConsumerBaseline, floor: int) -> tuple[int, int]:
    return max(consumer.delivered, floor), max(consumer.ack_floor, floor)


def comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration without what the server writes into it: `name` (CONSUMER.CREATE does;
    it is the key anyway) and `_nats.*` metadata (2.11+)."""
    return {k: v for k, v in _without_server_metadata(config).items() if k != "name"}


def _without_server_metadata(config: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(config)
    metadata = {k: v for k, v in (out.pop("metadata", None) or {}).items() if not k.startswith("_nats.")}
    return {**out, "metadata": metadata} if metadata else out


def config_sha256(config: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(comparable(config), sort_keys=True).encode()).hexdigest()


def create_request(stream: str, name: str, config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The API that made a consumer with this configuration, so it comes back the same: a
    durable without `name` by the legacy DURABLE.CREATE (any server), else CONSUMER.CREATE by
    name (2.9+, which writes `name` into the configuration)."""
    body: dict[str, Any] = {"stream_name": stream, "config": _without_server_metadata(config)}
    if config.get("durable_name") and "name" not in config:
        return f"CONSUMER.DURABLE.CREATE.{stream}.{config['durable_name']}", body
    return f"CONSUMER.CREATE.{stream}.{name}", {**body, "action": "create"}


def take(
    host: str, port: int, timeout: float, auth: Mapping[str, str] | None = None
) -> dict[str, StreamBaseline]:
    with JetStream(host, port, timeout, auth) as js:
        return _survey(js, None)


def reset(
    host: str,
    port: int,
    baseline: Mapping[str, StreamBaseline],
    timeout: float,
    auth: Mapping[str, str] | None = None,
) -> str:
    """Put the server back to `baseline`; what was done, in words. Raises NatsResetError."""
    with JetStream(host, port, timeout, auth) as js:
        current = _survey(js, sorted(baseline))
        todo = plan(baseline, current)
        if todo.problems:
            raise NatsResetError("; ".join(todo.problems))
        js.call_all(
            [
                *(f"STREAM.DELETE.{s}" for s in todo.delete_streams),
                *(f"STREAM.PURGE.{s}" for s in todo.purge_streams),
                *(f"CONSUMER.DELETE.{s}.{c}" for s, c in (*todo.delete_consumers, *todo.replace_consumers)),
            ],
            ok_codes={_STREAM_NOT_FOUND, _CONSUMER_NOT_FOUND},
        )
        requests = [create_request(s, c, baseline[s].consumers[c].config) for s, c in todo.recreate_consumers]
        made = js.call_all([api for api, _ in requests], [body for _, body in requests])
    stuck = []
    for (s, c), info in zip(todo.recreate_consumers, made, strict=True):
        was, fresh = baseline[s].consumers[c], ConsumerBaseline.from_info(info)
        floor = settled_floor(baseline[s], current[s])
        if position(fresh, floor) != position(was, floor):
            stuck.append(
                f"consumer {c} of stream {s} had delivered up to stream sequence {was.delivered} (ack floor "
                f"{was.ack_floor}) after migrations; recreated, it starts at {fresh.delivered} (ack floor "
                f"{fresh.ack_floor}): a consumer's position cannot be set"
            )
    if stuck:
        raise NatsResetError("; ".join(stuck))
    return (
        f"{_count(todo.delete_streams, 'stream')} deleted, {len(todo.purge_streams)} purged, "
        f"{_count(todo.delete_consumers, 'consumer')} deleted, {len(todo.recreate_consumers)} recreated"
    )


def _count(items: Sequence[object], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _survey(js: JetStream, consumers_of: Sequence[str] | None) -> dict[str, StreamBaseline]:
    """Every stream with the consumers of `consumers_of` (None: of every stream), in one round
    trip when the names are known (plus one per further page)."""
    if consumers_of is None:
        infos = js.paged(["STREAM.LIST"])[0]
        consumers_of = sorted(info["config"]["name"] for info in infos)
        pages = js.paged([f"CONSUMER.LIST.{s}" for s in consumers_of])
    else:
        apis = ["STREAM.LIST", *(f"CONSUMER.LIST.{s}" for s in consumers_of)]
        infos, *pages = js.paged(apis)
    listed = {
        s: {str(c["name"]): ConsumerBaseline.from_info(c) for c in page}
        for s, page in zip(consumers_of, pages, strict=True)
    }
    found: dict[str, StreamBaseline] = {}
    for info in infos:
        name, state = info["config"]["name"], info.get("state") or {}
        found[name] = StreamBaseline(
            listed.get(name, {}),
            int(state.get("messages", 0)),
            int(state.get("last_seq", 0)),
            config_sha256(info["config"]),
        )
    return found
