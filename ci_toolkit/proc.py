"""The one place that runs processes.

`run()` logs the quoted command, records it (cwd, exit code, output, duration) for the
diagnostics bundle, and raises `CommandError` on failure or timeout.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ci_toolkit.errors import CommandError

log = logging.getLogger("ci_toolkit.proc")


@dataclass(frozen=True)
class CommandRecord:
    cmd: tuple[str, ...]
    cwd: str
    returncode: int | None
    seconds: float
    stdout: str
    stderr: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cmd"] = shlex.join(self.cmd)
        return data


class CommandLog:
    """Thread-safe record of every command run, for diagnostics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[CommandRecord] = []

    def add(self, record: CommandRecord) -> None:
        with self._lock:
            self._records.append(record)

    def records(self) -> list[CommandRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget what was recorded (a soak starts each iteration's record afresh)."""
        with self._lock:
            self._records.clear()


COMMAND_LOG = CommandLog()


def run(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    input: str | None = None,
    cancel: threading.Event | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `cmd`, capture its output, and raise `CommandError` if it fails.

    `env` is merged over the current environment, so callers pass only what they add.
    The child runs in its own session: a Ctrl-C on the terminal reaches ci-toolkit only,
    which decides what to stop (a teardown must not be killed by a second Ctrl-C).
    Setting `cancel` kills the child and raises `CommandError` with returncode None.
    """
    argv = [str(part) for part in cmd]
    full_env = {**os.environ, **env} if env is not None else None
    workdir = os.fspath(cwd) if cwd is not None else os.getcwd()
    log.debug("$ %s  (cwd=%s)", shlex.join(argv), workdir)
    started = time.monotonic()

    def record(returncode: int | None, out: str, err: str) -> None:
        COMMAND_LOG.add(CommandRecord(tuple(argv), workdir, returncode, time.monotonic() - started, out, err))

    try:
        child = subprocess.Popen(
            argv,
            env=full_env,
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
    except FileNotFoundError:
        record(127, "", "not found")
        raise CommandError(argv, 127, "", f"{argv[0]}: command not found") from None
    try:
        out, err = _communicate(child, input, timeout, cancel)
    except subprocess.TimeoutExpired:
        out, err = _kill(child)
        record(None, out, err)
        raise CommandError(argv, None, out, err, timeout=timeout) from None
    except _Cancelled:
        out, err = _kill(child)
        record(None, out, err)
        raise CommandError(argv, None, out, err + "\n(cancelled)") from None
    except BaseException:  # a signal turned into an exception: never leave the child behind
        _kill(child)
        raise
    record(child.returncode, out, err)
    if check and child.returncode != 0:
        raise CommandError(argv, child.returncode, out, err)
    return subprocess.CompletedProcess(argv, child.returncode, out, err)


class _Cancelled(Exception):
    pass


def _communicate(
    child: subprocess.Popen[str], input: str | None, timeout: float | None, cancel: threading.Event | None
) -> tuple[str, str]:
    if cancel is None:
        return child.communicate(input, timeout=timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            return child.communicate(input, timeout=0.1)
        except subprocess.TimeoutExpired:
            input = None  # already sent
            if cancel.is_set():
                raise _Cancelled from None
            if deadline is not None and time.monotonic() > deadline:
                raise


def _kill(child: subprocess.Popen[str]) -> tuple[str, str]:
    # The whole session: `docker compose` runs the compose plugin as a grandchild.
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        child.kill()
    try:
        out, err = child.communicate(timeout=10)
    except (subprocess.TimeoutExpired, ValueError):
        return "", ""
    return out or "", err or ""
