"""Just enough of the PostgreSQL wire protocol to log in and run `SELECT 1`.

The readiness probe speaks the protocol itself so that every attempt has a socket-level
timeout of our choosing (libpq's connect_timeout cannot go below 2 s) and so that the probe
costs no heavy import. Supports trust, cleartext, MD5 and SCRAM-SHA-256 authentication.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import struct

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
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        conn = _Conn(sock)
        body = b"".join(
            k.encode() + b"\0" + v.encode() + b"\0"
            for k, v in (("user", user), ("database", database), ("application_name", "ci-toolkit"))
        )
        payload = struct.pack("!i", 196608) + body + b"\0"
        sock.sendall(struct.pack("!i", len(payload) + 4) + payload)
        _authenticate(conn, user, password)
        conn.wait_ready()
        conn.send(b"Q", b"SELECT 1\0")
        rows = 0
        while True:
            kind, data = conn.read()
            if kind == b"D":
                rows += 1
            elif kind == b"E":
                raise _error(data)
            elif kind == b"Z":
                break
        if rows != 1:
            raise PgError(f"SELECT 1 returned {rows} rows")
        conn.send(b"X", b"")


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

    def wait_ready(self) -> None:
        while True:
            kind, data = self.read()
            if kind == b"E":
                raise _error(data)
            if kind == b"Z":
                return


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
