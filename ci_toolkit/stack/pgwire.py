"""Just enough of the PostgreSQL wire protocol to log in and run simple queries.

The readiness probe speaks the protocol itself so that every attempt has a socket-level
timeout of our choosing (libpq's connect_timeout cannot go below 2 s) and so that the probe
costs no heavy import. The reuse reset runs its few statements over `connect()` for the same
reason: importing psycopg alone costs more than the whole reset. Supports trust, cleartext,
MD5 and SCRAM-SHA-256 authentication; simple-query protocol only, values as text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct
from collections.abc import Mapping

# SQLSTATE classes that mean "the server is still coming up, try again".
_NOT_YET = {"57P03"}  # cannot_connect_now: "the database system is starting up"


class PgError(Exception):
    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code

    @property
    def transient(self) -> bool:
        return self.code in _NOT_YET


def select_one(host: str, port: int, user: str, password: str, database: str, timeout: float) -> None:
    """Connect, authenticate and run `SELECT 1`; raise OSError or PgError if not possible."""
    with connect(host, port, user, password, database, timeout) as session:
        rows = session.query("SELECT 1")
    if len(rows) != 1:
        raise PgError(f"SELECT 1 returned {len(rows)} rows")


Row = tuple[str | None, ...]


class Session:
    """One logged-in connection; `parameters` are what the server reported (server_version, ...)."""

    def __init__(self, sock: socket.socket, parameters: dict[str, str]) -> None:
        self._sock = sock
        self._conn = _Conn(sock)
        self.parameters = parameters

    @property
    def server_major(self) -> int:
        """The server's major version (15 for "15.8 (Debian ...)"); 0 if it did not say."""
        head = self.parameters.get("server_version", "").split(".")[0].split(" ")[0]
        return int(head) if head.isdigit() else 0

    def query(self, sql: str) -> list[Row]:
        """Run `sql` (one or more statements) with the simple-query protocol; the rows of all of
        them, values as text. A server error is raised as PgError once the server is ready again,
        so the session stays usable."""
        self._conn.send(b"Q", sql.encode() + b"\0")
        rows: list[Row] = []
        error: PgError | None = None
        while True:
            kind, data = self._conn.read()
            if kind == b"D":
                rows.append(_row(data))
            elif kind == b"E":
                error = error or _error(data)
            elif kind == b"Z":
                break
            # T (row description), C (command complete), N (notice), S, A, I: nothing to keep
        if error is not None:
            raise error
        return rows

    def close(self) -> None:
        try:
            self._conn.send(b"X", b"")
        except OSError:
            pass  # the server is gone already: nothing to say goodbye to
        finally:
            self._sock.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    host: str,
    port: int,
    user: str,
    password: str,
    database: str,
    timeout: float,
    *,
    settings: Mapping[str, str] | None = None,
) -> Session:
    """Log in; `settings` are run-time parameters set at backend start (no extra round trip),
    e.g. {"statement_timeout": "5000"}. Raise OSError or PgError if not possible."""
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.settimeout(timeout)
        conn = _Conn(sock)
        params = {"user": user, "database": database, "application_name": "ci-toolkit", **(settings or {})}
        body = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items())
        payload = struct.pack("!i", 196608) + body + b"\0"
        sock.sendall(struct.pack("!i", len(payload) + 4) + payload)
        _authenticate(conn, user, password)
        reported = conn.wait_ready()
    except BaseException:
        sock.close()
        raise
    return Session(sock, reported)


def quote_ident(name: str) -> str:
    """An SQL identifier, quoted: any name (mixed case, spaces, quotes) means exactly itself."""
    if "\0" in name:
        raise ValueError(f"an identifier cannot contain NUL: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """An SQL string literal that means `value` whatever standard_conforming_strings is."""
    if "\0" in value:
        raise ValueError(f"a string literal cannot contain NUL: {value!r}")
    quoted = value.replace("'", "''")
    if "\\" in value:
        return "E'" + quoted.replace("\\", "\\\\") + "'"
    return "'" + quoted + "'"


def _row(data: bytes) -> Row:
    (count,) = struct.unpack_from("!h", data)
    at, values = 2, list[str | None]()
    for _ in range(count):
        (size,) = struct.unpack_from("!i", data, at)
        at += 4
        if size < 0:
            values.append(None)
        else:
            values.append(data[at : at + size].decode())
            at += size
    return tuple(values)


class _Conn:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        return buf

    def read(self) -> tuple[bytes, bytes]:
        header = self._exact(5)
        (length,) = struct.unpack("!i", header[1:])
        return header[:1], self._exact(length - 4)

    def send(self, kind: bytes, data: bytes) -> None:
        self.sock.sendall(kind + struct.pack("!i", len(data) + 4) + data)

    def wait_ready(self) -> dict[str, str]:
        """Read up to ReadyForQuery; the ParameterStatus values reported on the way."""
        reported: dict[str, str] = {}
        while True:
            kind, data = self.read()
            if kind == b"E":
                raise _error(data)
            if kind == b"S":
                name, value, _ = data.split(b"\0", 2)
                reported[name.decode()] = value.decode(errors="replace")
            if kind == b"Z":
                return reported


def _authenticate(conn: _Conn, user: str, password: str) -> None:
    while True:
        kind, data = conn.read()
        if kind == b"E":
            raise _error(data)
        if kind != b"R":
            raise PgError(f"unexpected message {kind!r} during authentication")
        (code,) = struct.unpack("!i", data[:4])
        if code == 0:
            return
        if code == 3:
            conn.send(b"p", password.encode() + b"\0")
        elif code == 5:
            inner = hashlib.md5((password + user).encode()).hexdigest()
            digest = hashlib.md5(inner.encode() + data[4:8]).hexdigest()
            conn.send(b"p", b"md5" + digest.encode() + b"\0")
        elif code == 10:
            _scram(conn, password, data[4:])
        elif code == 12:
            continue  # SASLFinal (server signature); AuthenticationOk follows
        else:
            raise PgError(f"unsupported authentication method {code}")


def _scram(conn: _Conn, password: str, mechanisms: bytes) -> None:
    if b"SCRAM-SHA-256" not in mechanisms.split(b"\0"):
        raise PgError(f"server offers no supported SASL mechanism: {mechanisms!r}")
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n=,r={nonce}"
    first = ("n,," + first_bare).encode()
    conn.send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
    kind, data = conn.read()
    if kind == b"E":
        raise _error(data)
    server_first = data[4:].decode()
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    if not attrs["r"].startswith(nonce):
        raise PgError("SCRAM: server nonce does not extend ours")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = f"c=biws,r={attrs['r']}"
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(stored_key, auth_message, "sha256")
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    conn.send(b"p", f"{without_proof},p={base64.b64encode(proof).decode()}".encode())


def _error(data: bytes) -> PgError:
    fields = {f[:1]: f[1:].decode(errors="replace") for f in data.split(b"\0") if f}
    return PgError(fields.get(b"M", "server error"), fields.get(b"C", ""))
