"""One readiness probe per service kind, each speaking the service's own protocol.

A probe makes one attempt with a short timeout and raises `NotReady` with the reason if the
service does not answer correctly yet. Retrying, overlapping and deadlines live in health.py.
A service that refuses the probe's credentials raises `ServiceAuthFailed` instead: that is a
config mistake, not "not ready yet", and health.py ends the wait on it at once.
"""

from __future__ import annotations

import contextlib
import http.client as httplib
import json
import socket
from collections.abc import Callable
from typing import NoReturn

from ci_toolkit.config import ServiceCheck
from ci_toolkit.errors import ServiceAuthFailed
from ci_toolkit.stack import pgwire


class NotReady(Exception):
    """This attempt did not get a correct answer; the reason is the message."""


Probe = Callable[[ServiceCheck, str, dict[int, int], float], None]


def probe(check: ServiceCheck, host: str, ports: dict[int, int], timeout: float) -> None:
    try:
        PROBES[check.kind](check, host, ports, timeout)
    except NotReady:
        raise
    except pgwire.PgError as exc:
        raise NotReady(f"postgres: {exc}") from None
    except (OSError, ValueError, httplib.HTTPException) as exc:
        raise NotReady(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None


def _port(check: ServiceCheck, ports: dict[int, int], container_port: int | None = None) -> int:
    wanted = container_port or check.port
    if wanted not in ports:
        raise NotReady(f"container port {wanted} is not published")
    return ports[wanted]


def postgres(check: ServiceCheck, host: str, ports: dict[int, int], timeout: float) -> None:
    pgwire.select_one(host, _port(check, ports), check.user, check.password, check.database, timeout)


def redis(check: ServiceCheck, host: str, ports: dict[int, int], timeout: float) -> None:
    # RESP by hand: redis-py retries failed connects with ~1 s backoff on its own.
    auth = check.password or check.user
    with contextlib.ExitStack() as open_:
        sock = open_.enter_context(socket.create_connection((host, _port(check, ports)), timeout=timeout))
        sock.settimeout(timeout)
        if check.tls:  # `--tls-port`: TLS from the first byte
            sock = open_.enter_context(_tls(sock))
        # AUTH and PING in one write: one round trip, as fast as the unprotected probe.
        args = [a for a in ("AUTH", check.user, check.password) if a] if auth else []
        sock.sendall((_resp(*args) if auth else b"") + b"PING\r\n")
        if auth:
            answer = _readline(sock)
            if answer.startswith(b"-"):
                _redis_refused(check, answer)
            elif answer != b"+OK":
                raise NotReady(f"redis answered {answer.decode(errors='replace')[:60]!r} to AUTH")
        reply = _readline(sock)
    if reply.startswith(b"-"):
        _redis_refused(check, reply)
    if reply != b"+PONG":
        raise NotReady(f"redis answered {reply.decode(errors='replace')!r} to PING")


def _tls(sock: socket.socket) -> socket.socket:
    """TLS over `sock`, the certificate not verified: the probe asks whether a container it
    started on 127.0.0.1 answers, and test stacks use self-signed certificates."""
    import ssl  # only protected stacks pay for it

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context.wrap_socket(sock)


def _resp(*args: str) -> bytes:
    """A RESP array: a password may hold spaces or quotes, which the inline form would split."""
    out = b"*%d\r\n" % len(args)
    for arg in args:
        data = arg.encode()
        out += b"$%d\r\n%s\r\n" % (len(data), data)
    return out


def _redis_refused(check: ServiceCheck, error: bytes) -> None:
    """Raise for an error reply: `ServiceAuthFailed` if it is about credentials, else `NotReady`
    (-LOADING while the dataset loads). Only the error's code is quoted: never the request."""
    code = error[1:].split(b" ", 1)[0].decode(errors="replace")
    where = f"services.{check.name}"
    if code in ("WRONGPASS", "NOAUTH"):
        what = f"{where}.user and {where}.password, or the service's ACL" if check.user else None
        _auth_failed(check, code, what or f"{where}.password or the service's --requirepass")
    if b"without any password configured" in error:
        _auth_failed(
            check,
            "no password is set on the server",
            f"{where}.password, or start the service with --requirepass",
        )
    raise NotReady(f"redis answered {error.decode(errors='replace')[:80]!r}")


def _auth_failed(check: ServiceCheck, why: str, what: str) -> NoReturn:
    raise ServiceAuthFailed(
        check.name,
        f"{check.name}: authentication failed ({why}): check {what}",
        hint="the probe's credentials come from the config, else from the service's compose "
        "definition (command line, environment)",
    )


def nats(check: ServiceCheck, host: str, ports: dict[int, int], timeout: float) -> None:
    with contextlib.ExitStack() as open_:
        sock = open_.enter_context(socket.create_connection((host, _port(check, ports)), timeout=timeout))
        sock.settimeout(timeout)
        line = _readline(sock)
        if not line.startswith(b"INFO "):
            raise NotReady(f"nats sent {line[:60]!r} instead of INFO")
        info = json.loads(line[5:])
        # NATS says in its INFO whether it wants TLS: the client upgrades right after it.
        if info.get("tls_required") or (check.tls and info.get("tls_available")):
            sock = open_.enter_context(_tls(sock))
        elif check.tls:
            raise NotReady("nats does not offer TLS (its INFO has no tls_required or tls_available)")
        connect: dict[str, object] = {
            "verbose": False,
            "pedantic": False,
            "name": "ci-toolkit",
            "headers": True,
        }
        connect.update(nats_auth(check))
        sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        reply = _readline(sock)
        if reply.startswith(b"-ERR") and b"authorization violation" in reply.lower():
            _nats_refused(check, bool(info.get("auth_required")))
        if reply.startswith(b"-ERR"):
            raise NotReady(f"nats: {reply.decode(errors='replace')}")
        if reply != b"PONG":
            raise NotReady(f"nats answered {reply!r} to PING")
        if check.jetstream:
            if not info.get("jetstream"):
                raise NotReady("nats is up but JetStream is not enabled (start it with -js)")
            _jetstream_api(sock)
    if check.jetstream and check.monitor_port:
        _http_ok(host, _port(check, ports, check.monitor_port), "/healthz", 200, timeout)


def nats_auth(check: ServiceCheck) -> dict[str, str]:
    """CONNECT's credentials for a protected NATS: a token, or user and password."""
    if check.token:
        return {"auth_token": check.token}
    if check.user or check.password:
        return {"user": check.user, "pass": check.password}
    return {}


def redis_auth(check: ServiceCheck) -> bytes:
    """The AUTH command a protected Redis needs first (`AUTH [user] password`), or nothing."""
    return _resp(*(a for a in ("AUTH", check.user, check.password) if a)) if check.password else b""


def _nats_refused(check: ServiceCheck, required: bool) -> NoReturn:
    where = f"services.{check.name}"
    given = check.token or check.user or check.password
    why = "Authorization Violation" if given or not required else "the server requires credentials"
    _auth_failed(check, why, f"{where}.user/password or {where}.token, or the service's --user/--pass/--auth")


def _jetstream_api(sock: socket.socket) -> None:
    """Ask the JetStream API for account info over the client connection."""
    sock.sendall(b"SUB _CITK.js 1\r\nPUB $JS.API.INFO _CITK.js 0\r\n\r\nPING\r\n")
    while True:
        line = _readline(sock)
        if line.startswith(b"MSG "):
            size = int(line.split()[-1])
            body = _readexact(sock, size + 2)[:-2]
            reply = json.loads(body or b"{}")
            if "error" in reply:
                raise NotReady(f"JetStream: {reply['error'].get('description', reply['error'])}")
            return
        if line.startswith(b"-ERR"):
            raise NotReady(f"nats: {line.decode(errors='replace')}")
        # PONG or +OK before the reply: keep reading until the reply or a timeout.


def http(check: ServiceCheck, host: str, ports: dict[int, int], timeout: float) -> None:
    _http_ok(host, _port(check, ports), check.path, check.expect_status, timeout)


def _http_ok(host: str, port: int, path: str, expect: int, timeout: float) -> None:
    conn = httplib.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "ci-toolkit"})
        status = conn.getresponse().status
    finally:
        conn.close()
    if status != expect:
        raise NotReady(f"GET {path} answered {status}, expected {expect}")


def tcp(check: ServiceCheck, host: str, ports: dict[int, int], timeout: float) -> None:
    # A bare connect succeeds against docker-proxy even when the container does not
    # listen, so also require that the peer does not close the connection at once.
    with socket.create_connection((host, _port(check, ports)), timeout=timeout) as sock:
        sock.settimeout(min(timeout, 0.05))
        try:
            if sock.recv(1, socket.MSG_PEEK) == b"":
                raise NotReady("connection closed by peer")
        except TimeoutError:
            pass  # open and silent: a listening server that waits for the client to speak


def _readline(sock: socket.socket, limit: int = 65536) -> bytes:
    buf = b""
    while not buf.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise NotReady("connection closed by peer")
        buf += chunk
        if len(buf) > limit:
            raise NotReady("line too long")
    return buf[:-2]


def _readexact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise NotReady("connection closed by peer")
        buf += chunk
    return buf


PROBES: dict[str, Probe] = {"postgres": postgres, "redis": redis, "nats": nats, "http": http, "tcp": tcp}
