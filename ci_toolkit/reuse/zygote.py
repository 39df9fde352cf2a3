"""A lease's warm pytest interpreter (`ci_toolkit.pytest_zygote`), seen from ci-toolkit: start it
when a lease is kept, fork a pytest from it at the start of the next warm run, stop it with the lease.

The forked pytest waits at the plugin's gate, before any conftest is imported, while ci-toolkit
checks the stack and resets it; `ForkedPytest.release(env)` lets it go with the final environment,
`cancel()` makes it exit without running a test. `proc.stream` drives it like any child.

Measured here (the bundled example, coverage on): `python -m pytest` takes 0.69-0.77 s to its
first test; a fork of a warm interpreter 0.18-0.24 s, of which the part after the gate is the
conftest and collection.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from ci_toolkit import proc
from ci_toolkit.errors import InfrastructureError, TestRunnerError
from ci_toolkit.reuse.paths import leases_dir

IDLE_SECONDS = 30 * 60  # a zygote nobody asked for this long stops itself
READY_TIMEOUT = 15.0


def socket_path(name: str, python: str = sys.executable) -> str:
    """Short (a unix socket path is limited to ~100 bytes), in a directory only this user can
    enter: the tests' environment, secrets included, goes through this socket. One per lease and
    interpreter: a run from another virtualenv (tox, nox) or with another PYTHONPATH never forks
    from this one's."""
    return str(_private_dir() / f"citk-{_flavour(name, python)}.sock")


def _flavour(name: str, python: str) -> str:
    python_env = sorted((k, v) for k, v in os.environ.items() if k.startswith("PYTHON"))
    seed = json.dumps([str(leases_dir() / name), python, os.path.realpath(python), python_env])
    return hashlib.sha256(seed.encode()).hexdigest()[:12]


def _private_dir() -> Path:
    path = Path(tempfile.gettempdir()) / f"ci-toolkit-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not path.is_dir() or path.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise InfrastructureError(
            f"{path} is not a private directory of this user (owner uid {info.st_uid}, "
            f"mode {info.st_mode & 0o777:o}); the warm pytest's socket cannot go there",
            hint=f"remove {path} (or set TMPDIR to a directory of your own) and run again",
        )
    return path


def modules_file(name: str) -> Path:
    """Where the plugin writes the installed modules a run imported (the zygote imports them)."""
    return leases_dir() / f"{name}.modules"


def start(name: str, python: str, env: Mapping[str, str], cwd: Path) -> bool:
    """Start the lease's zygote for `python` unless one answers already."""
    if alive(name, python):
        return True
    where = socket_path(name, python)
    cmd = [python, "-m", "ci_toolkit.pytest_zygote", where, str(modules_file(name)), str(IDLE_SECONDS)]
    pid = proc.start_daemon(cmd, env=env, cwd=cwd, ready="ready", timeout=READY_TIMEOUT)
    if pid is None:
        return False
    record = {"pid": pid, "socket": where}
    (leases_dir() / f"{name}.{_flavour(name, python)}.zygote").write_text(json.dumps(record))
    return True


def stop(name: str) -> None:
    """Stop the lease's zygotes (its lease is gone). Only a process that is one is signalled."""
    for path in leases_dir().glob(f"{name}.*.zygote"):
        with contextlib.suppress(OSError, ValueError, KeyError):
            record = json.loads(path.read_text())
            pid, where = int(record["pid"]), str(record["socket"])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if Path(f"/proc/{pid}").exists() else b""
            if b"ci_toolkit.pytest_zygote" in cmdline and where.encode() in cmdline:
                proc.signal_process(pid, signal.SIGTERM)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(where)
        path.unlink(missing_ok=True)


def fork(
    name: str, python: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str]
) -> ForkedPytest | None:
    """A pytest forked from the lease's zygote for `python`, waiting at the gate; None without a
    usable zygote."""
    conn = _connect(name, python)
    if conn is None:
        return None
    out_r, out_w = os.pipe()
    gate_r, gate_w = os.pipe()
    try:
        request = {"argv": list(argv), "cwd": str(cwd), "env": dict(env)}
        socket.send_fds(conn, [json.dumps(request).encode() + b"\n"], [out_w, gate_r])
        conn.settimeout(READY_TIMEOUT)
        first, rest = _first_line(conn)
        answer = json.loads(first or b"{}")
    except (OSError, ValueError):
        answer, rest = {}, b""
    finally:
        os.close(out_w)
        os.close(gate_r)
    if "pid" not in answer:  # stale (packages changed) or broken: it has stopped itself
        conn.close()
        for fd in (out_r, gate_w):
            os.close(fd)
        return None
    conn.settimeout(None)
    child = ForkedPytest(int(answer["pid"]), conn, os.fdopen(out_r, "r", errors="replace"), gate_w)
    child.received(rest)  # the exit line may have come with the first (a child that died at once)
    return child


def _first_line(conn: socket.socket) -> tuple[bytes, bytes]:
    """The first line from `conn` and whatever came after it (never buffered away)."""
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    first, _, rest = data.partition(b"\n")
    return first, rest


class ForkedPytest:
    """A pytest forked by a zygote, with the interface `proc.stream` needs (`proc.Child`)."""

    def __init__(self, pid: int, conn: socket.socket, stdout: IO[str], gate: int) -> None:
        self.pid = pid
        self.stdout: IO[str] | None = stdout
        self.stderr: IO[str] | None = None  # merged into stdout
        self.returncode: int | None = None
        self._conn = conn
        self._gate: int | None = gate
        self._answer = b""

    def release(self, env: Mapping[str, str]) -> None:
        """Let it run the tests with `env` as its whole environment."""
        assert self._gate is not None
        try:
            os.write(self._gate, json.dumps({"env": dict(env)}).encode() + b"\n")
        except OSError as exc:  # it died at its gate: the caller starts pytest the ordinary way
            raise TestRunnerError(f"the pytest forked ahead exited before the tests: {exc}") from None
        finally:
            os.close(self._gate)
            self._gate = None

    def received(self, data: bytes) -> None:
        self._answer += data
        for line in self._answer.splitlines():
            with contextlib.suppress(ValueError):
                message = json.loads(line)
                if isinstance(message, dict) and "exit" in message:
                    self.returncode = int(message["exit"])

    def cancel(self) -> None:
        """Make it exit without running a test (the gate closes unopened), and wait for it."""
        if self._gate is not None:
            os.close(self._gate)
            self._gate = None
        if self.wait(10.0) is None:
            self.send_signal(signal.SIGKILL)
            self.wait(5.0)
        if self.stdout is not None:
            self.stdout.close()
        self._conn.close()

    def poll(self) -> int | None:
        return self.wait(0.0)

    def wait(self, timeout: float | None = None) -> int | None:
        """Its exit code (negative: the signal that killed it), or None if not ended within `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._conn], [], [], left)
            if not ready:
                return None
            chunk = self._conn.recv(4096)
            if not chunk:  # the zygote died: so did its child's parent, not necessarily the child
                self.returncode = -signal.SIGKILL if not proc.signal_process(self.pid, 0) else 70
                break
            self.received(chunk)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        proc.signal_process(self.pid, sig)


def alive(name: str, python: str = sys.executable) -> bool:
    conn = _connect(name, python)
    if conn is None:
        return False
    conn.close()  # an empty request: the zygote takes it as a liveness check
    return True


def _connect(name: str, python: str = sys.executable) -> socket.socket | None:
    """A connection to the lease's zygote, only if the process listening is this user's."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(1.0)
        sock.connect(socket_path(name, python))
        peercred = getattr(socket, "SO_PEERCRED", None)  # Linux; elsewhere the private dir is the guard
        if peercred is not None:
            _, uid, _ = struct.unpack(
                "3i", sock.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i"))
            )
            if uid != os.getuid():
                raise OSError(f"the socket's listener runs as uid {uid}")
    except OSError:
        sock.close()
        return None
    return sock
