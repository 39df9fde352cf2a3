"""A minimal JetStream API client over the raw NATS protocol, for the reset (no nats-py import:
the reset has a budget of milliseconds). Requests are pipelined: a step's requests go out at
once and the replies are matched by their reply subject."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

# JetStream error codes that mean "already gone": deleting it again is what we wanted anyway.
STREAM_NOT_FOUND = 10059
CONSUMER_NOT_FOUND = 10014


class NatsResetError(Exception):
    """What went wrong, in words; reset.py names the service and adds the hint."""


class JetStream:
    """One client connection that speaks to the JetStream API by request and reply."""

    def __init__(self, host: str, port: int, timeout: float, auth: Mapping[str, str] | None = None) -> None:
        """`auth`: CONNECT's credentials (`user`/`pass` or `auth_token`) for a protected server."""
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
            connect: dict[str, Any] = {"verbose": False, "pedantic": False, "name": "ci-toolkit reset"}
            connect["headers"] = True
            connect["no_responders"] = True  # a request nobody answers fails at once, not at the timeout
            connect.update(auth or {})
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

    def paged(self, apis: Sequence[str]) -> list[list[Any]]:
        """All items of paged STREAM.LIST / CONSUMER.LIST answers (offset/total), for several at
        once. A stream that is gone lists no consumers (the reset's plan reports it)."""
        items: list[list[Any]] = [[] for _ in apis]
        pending = list(range(len(apis)))
        while pending:
            replies = self.call_all(
                [apis[i] for i in pending],
                [{"offset": len(items[i])} for i in pending],
                ok_codes={STREAM_NOT_FOUND},
            )
            more = []
            for i, reply in zip(pending, replies, strict=True):
                page = reply.get("streams" if apis[i] == "STREAM.LIST" else "consumers") or []
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
