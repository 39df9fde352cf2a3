"""JetStream back to its baseline, over the raw NATS client protocol (no nats-py import: the
reset has a budget of milliseconds). Requests to `$JS.API` are pipelined: every request of a
step goes out at once and the replies are matched by their reply subject, so a step costs one
round trip however many streams or consumers it touches.

KV buckets and object stores are streams (`KV_<bucket>`, `OBJ_<store>`), so they are covered
by the stream rules: created after the baseline -> deleted; present at the baseline -> kept.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# JetStream error codes that mean "already gone": deleting it again is what we wanted anyway.
_STREAM_NOT_FOUND = 10059
_CONSUMER_NOT_FOUND = 10014


class NatsResetError(Exception):
    """What went wrong, in words; reset.py names the service and adds the hint."""


@dataclass(frozen=True)
class StreamBaseline:
    """One stream as it was right after migrations."""

    consumers: tuple[str, ...]
    messages: int
    last_seq: int

    def to_dict(self) -> dict[str, Any]:
        return {"consumers": list(self.consumers), "messages": self.messages, "last_seq": self.last_seq}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StreamBaseline:
        return cls(tuple(str(c) for c in data["consumers"]), int(data["messages"]), int(data["last_seq"]))


@dataclass(frozen=True)
class Plan:
    """What a reset does to one server, from the baseline and what is there now (pure)."""

    delete_streams: tuple[str, ...]
    purge_streams: tuple[str, ...]
    problems: tuple[str, ...]  # what cannot be put back: the reset fails with these


def plan(baseline: Mapping[str, StreamBaseline], current: Mapping[str, tuple[int, int]]) -> Plan:
    """`current`: stream -> (messages, last_seq). Streams made after the baseline are deleted;
    a baseline stream that was empty and has messages now is purged; one that had messages and
    changed cannot be put back (JetStream purges only from the oldest end)."""
    delete = tuple(sorted(name for name in current if name not in baseline))
    gone = sorted(name for name in baseline if name not in current)
    problems = [f"stream {name} (present after migrations) was deleted" for name in gone]
    purge: list[str] = []
    for name, was in sorted(baseline.items()):
        if name not in current:
            continue
        messages, last_seq = current[name]
        if was.messages == 0:
            if messages:
                purge.append(name)
        elif (messages, last_seq) != (was.messages, was.last_seq):
            problems.append(
                f"stream {name} held {was.messages} messages after migrations (last sequence {was.last_seq}) "
                f"and now holds {messages} (last sequence {last_seq}); only the oldest messages can be purged"
            )
    return Plan(delete, tuple(purge), tuple(problems))


def consumer_changes(
    baseline: Mapping[str, StreamBaseline], current: Mapping[str, Sequence[str]]
) -> tuple[list[tuple[str, str]], list[str]]:
    """((stream, consumer) made after the baseline, problems: baseline consumers that are gone)."""
    extra: list[tuple[str, str]] = []
    problems: list[str] = []
    for stream, was in sorted(baseline.items()):
        keep, now = set(was.consumers), set(current.get(stream, ()))
        extra += [(stream, c) for c in sorted(now - keep)]
        for c in sorted(keep - now):
            problems.append(f"consumer {c} of stream {stream} (present after migrations) was deleted")
    return extra, problems


def take(host: str, port: int, timeout: float) -> dict[str, StreamBaseline]:
    with JetStream(host, port, timeout) as js:
        streams = js.streams()
        consumers = js.consumer_names(sorted(streams))
        return {
            name: StreamBaseline(tuple(sorted(consumers[name])), messages, last_seq)
            for name, (messages, last_seq) in streams.items()
        }


def reset(host: str, port: int, baseline: Mapping[str, StreamBaseline], timeout: float) -> str:
    """Put the server back to `baseline`; what was done, in words. Raises NatsResetError."""
    with JetStream(host, port, timeout) as js:
        todo = plan(baseline, js.streams())
        if todo.problems:
            raise NatsResetError("; ".join(todo.problems))
        doomed = [f"STREAM.DELETE.{s}" for s in todo.delete_streams]
        js.call_all(
            [*doomed, *(f"STREAM.PURGE.{s}" for s in todo.purge_streams)], ok_codes={_STREAM_NOT_FOUND}
        )
        extra, problems = consumer_changes(baseline, js.consumer_names(sorted(baseline)))
        if problems:
            raise NatsResetError("; ".join(problems))
        js.call_all([f"CONSUMER.DELETE.{s}.{c}" for s, c in extra], ok_codes={_CONSUMER_NOT_FOUND})
    return (
        f"{_count(todo.delete_streams, 'stream')} deleted, {len(todo.purge_streams)} purged, "
        f"{_count(extra, 'consumer')} deleted"
    )


def _count(items: Sequence[object], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


class JetStream:
    """One client connection that speaks to the JetStream API by request and reply."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.settimeout(timeout)
        self._file = self._sock.makefile("rb")
        self._inbox = f"_CITK.{os.urandom(6).hex()}"
        try:
            line = self._line()
            if not line.startswith(b"INFO "):
                raise NatsResetError(f"the server sent {line[:60]!r} instead of INFO")
            if not json.loads(line[5:]).get("jetstream"):
                raise NatsResetError("JetStream is not enabled on the server (start it with -js)")
            connect = {"verbose": False, "pedantic": False, "name": "ci-toolkit reset", "headers": True}
            connect["no_responders"] = True  # a request nobody answers fails at once, not at the timeout
            self._sock.sendall(
                b"CONNECT " + json.dumps(connect).encode() + f"\r\nSUB {self._inbox}.* 1\r\nPING\r\n".encode()
            )
            while (line := self._line()) != b"PONG":
                self._control(line)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> JetStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def streams(self) -> dict[str, tuple[int, int]]:
        """Every stream -> (messages, last sequence), over as many pages as the server needs."""
        found: dict[str, tuple[int, int]] = {}
        for info in self.paged(["STREAM.LIST"], "streams")[0]:
            state = info.get("state") or {}
            found[info["config"]["name"]] = (int(state.get("messages", 0)), int(state.get("last_seq", 0)))
        return found

    def consumer_names(self, streams: Sequence[str]) -> dict[str, list[str]]:
        pages = self.paged([f"CONSUMER.NAMES.{s}" for s in streams], "consumers")
        return {s: [str(c) for c in names] for s, names in zip(streams, pages, strict=True)}

    def paged(self, apis: Sequence[str], key: str) -> list[list[Any]]:
        """All items under `key` of paged list answers (offset/total), for several APIs at once."""
        items: list[list[Any]] = [[] for _ in apis]
        pending = list(range(len(apis)))
        while pending:
            replies = self.call_all([apis[i] for i in pending], [{"offset": len(items[i])} for i in pending])
            more = []
            for i, reply in zip(pending, replies, strict=True):
                page = reply.get(key) or []
                items[i].extend(page)
                if page and len(items[i]) < int(reply.get("total", 0)):
                    more.append(i)
            pending = more
        return items

    def call_all(
        self,
        apis: Sequence[str],
        payloads: Sequence[Mapping[str, Any]] | None = None,
        *,
        ok_codes: frozenset[int] | set[int] = frozenset(),
    ) -> list[dict[str, Any]]:
        """Send every `$JS.API.<api>` request, then read every reply (in any order)."""
        if not apis:
            return []
        out = bytearray()
        for n, api in enumerate(apis):
            body = json.dumps(payloads[n]).encode() if payloads else b""
            out += f"PUB $JS.API.{api} {self._inbox}.{n} {len(body)}\r\n".encode() + body + b"\r\n"
        self._sock.sendall(out)
        replies: dict[int, dict[str, Any]] = {}
        while len(replies) < len(apis):
            subject, body = self._message()
            n = int(subject.rsplit(".", 1)[1])
            reply = json.loads(body or b"{}")
            error = reply.get("error")
            if error and error.get("err_code") not in ok_codes:
                raise NatsResetError(f"$JS.API.{apis[n]}: {error.get('description', error)}")
            replies[n] = reply
        return [replies[n] for n in range(len(apis))]

    def _message(self) -> tuple[str, bytes]:
        """The next message to our inbox: (subject, payload)."""
        while True:
            line = self._line()
            if line.startswith(b"MSG "):
                parts = line.split()
                return parts[1].decode(), self._exact(int(parts[-1]))
            if line.startswith(b"HMSG "):
                parts = line.split()
                head, total = int(parts[-2]), int(parts[-1])
                data = self._exact(total)
                status = data[:head].split(b"\r\n", 1)[0]
                if b" 503" in status:
                    raise NatsResetError("no JetStream responder (is JetStream enabled, -js?)")
                return parts[1].decode(), data[head:]
            self._control(line)

    def _control(self, line: bytes) -> None:
        if line == b"PING":
            self._sock.sendall(b"PONG\r\n")
        elif line.startswith(b"-ERR"):
            raise NatsResetError(f"the server said {line.decode(errors='replace')}")
        # +OK, PONG, INFO (cluster updates): nothing to do

    def _line(self) -> bytes:
        line = self._file.readline(1 << 20)
        if not line.endswith(b"\r\n"):
            raise NatsResetError("the server closed the connection")
        return line[:-2]

    def _exact(self, size: int) -> bytes:
        data = self._file.read(size + 2)
        if len(data) != size + 2:
            raise NatsResetError("the server closed the connection")
        return data[:size]
