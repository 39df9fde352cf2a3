"""The one place that runs processes.

`run()` logs the quoted command, records it (cwd, exit code, output, duration) for the
diagnostics bundle, and raises `CommandError` on failure or timeout.
"""

from __future__ import annotations

import logging
import os
import shlex
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


COMMAND_LOG = CommandLog()


def run(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `cmd`, capture its output, and raise `CommandError` if it fails.

    `env` is merged over the current environment, so callers pass only what they add.
    """
    argv = [str(part) for part in cmd]
    full_env = {**os.environ, **env} if env is not None else None
    workdir = os.fspath(cwd) if cwd is not None else os.getcwd()
    log.debug("$ %s  (cwd=%s)", shlex.join(argv), workdir)
    started = time.monotonic()
    try:
        completed = subprocess.run(
            argv,
            env=full_env,
            cwd=workdir,
            timeout=timeout,
            capture_output=True,
            text=True,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        out = _text(exc.stdout)
        err = _text(exc.stderr)
        COMMAND_LOG.add(CommandRecord(tuple(argv), workdir, None, time.monotonic() - started, out, err))
        raise CommandError(argv, None, out, err, timeout=timeout) from None
    except FileNotFoundError:
        COMMAND_LOG.add(CommandRecord(tuple(argv), workdir, 127, 0.0, "", "not found"))
        raise CommandError(argv, 127, "", f"{argv[0]}: command not found") from None
    COMMAND_LOG.add(
        CommandRecord(
            tuple(argv),
            workdir,
            completed.returncode,
            time.monotonic() - started,
            completed.stdout,
            completed.stderr,
        )
    )
    if check and completed.returncode != 0:
        raise CommandError(argv, completed.returncode, completed.stdout, completed.stderr)
    return completed


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data
