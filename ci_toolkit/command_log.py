"""What every child process did, for the diagnostics bundle (`commands.json`): one record per
command with the end of its output, kept whole-line (`Tail`) so a secret is never cut in two
before the redaction filter sees it.

Verbose (`-v`, or CI_TOOLKIT_VERBOSE=1): each command is also printed to stderr, redacted, with
its time and exit code as it ends. Here, because every record passes through `CommandLog.add`.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from ci_toolkit.redact import REDACTOR

RECORDED_CHARS = 64 * 1024  # how much of a streamed command's output its record keeps (the end)
VERBOSE_ENV = "CI_TOOLKIT_VERBOSE"
_verbose = False  # set by the CLI's -v; the variable also works where no flag can be added (CI)


def set_verbose(on: bool) -> None:
    global _verbose
    _verbose = on


def verbose() -> bool:
    return _verbose or os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def echo(cmd: tuple[str, ...], outcome: str) -> None:
    """`$ CMD  (OUTCOME)` on stderr when verbose: redacted, like everything ci-toolkit prints."""
    if not verbose():
        return
    line = REDACTOR(f"$ {shlex.join(cmd)}  ({outcome})")
    # `##[` is a legacy workflow command the Actions runner finds anywhere in a line.
    sys.stderr.write(line.replace("##[", "## [") + "\n")
    sys.stderr.flush()


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
        REDACTOR.learn_output(record.stdout)  # compose config's environments: masked from now on
        with self._lock:
            self._records.append(record)
        ended = "killed" if record.returncode is None else f"exit {record.returncode}"
        echo(record.cmd, f"{record.seconds:.2f}s, {ended}")

    def records(self) -> list[CommandRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget what was recorded (a soak starts each iteration's record afresh)."""
        with self._lock:
            self._records.clear()


COMMAND_LOG = CommandLog()


class Tail:
    """The last RECORDED_CHARS of an output, in whole lines: a record never starts in the
    middle of a line, nor of a secret that the redaction filter would then not recognise."""

    def __init__(self) -> None:
        self._lines: deque[str] = deque()
        self._size = self._dropped = 0
        self._lock = threading.Lock()

    def add(self, line: str) -> None:
        if len(line) >= RECORDED_CHARS:
            line = f"[a line of {len(line)} characters, not kept]"
        with self._lock:
            self._lines.append(line + "\n")
            self._size += len(line) + 1
            while self._size > RECORDED_CHARS:
                self._size -= len(self._lines.popleft())
                self._dropped += 1

    def text(self) -> str:
        with self._lock:
            kept = "".join(self._lines)
        return f"[{self._dropped} earlier lines not kept]\n{kept}" if self._dropped else kept
