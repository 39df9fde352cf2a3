"""The one error boundary: every exception becomes a status, a documented exit code and a message
here, whether it ends a command (`guarded`) or a run (`classify`, used for `RunResult`).

An error that is not a `CiToolkitError` is a bug in ci-toolkit: its traceback is written by
`write_traceback` (the one writer) into the run's artifacts dir, or a temporary file when there
is none yet, and the message says where.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ci_toolkit.errors import CiToolkitError, ExitCode, Interrupted
from ci_toolkit.redact import REDACTOR


@dataclass(frozen=True)
class Failure:
    """What an exception means to the user."""

    status: str
    exit_code: int
    message: str
    error: CiToolkitError | None = None  # None for a bug in ci-toolkit


def classify(exc: BaseException, run_dir: Path | None = None) -> Failure:
    """The one mapping from an exception to status, exit code and message."""
    if isinstance(exc, KeyboardInterrupt):
        exc = Interrupted(2)
    if isinstance(exc, CiToolkitError):
        return Failure(exc.status, exc.exit_code, REDACTOR(str(exc)), exc)
    log = write_traceback(exc, run_dir)
    return Failure(
        "internal_error",
        ExitCode.INTERNAL,
        REDACTOR(
            f"internal error (a bug in ci-toolkit): {exc!r}\n  the traceback is in {log}; "
            "please attach it to a bug report"
        ),
    )


def guarded(fn: Callable[[], int]) -> int:
    """Run a command; turn any exception into a message on stderr and an exit code."""
    try:
        return fn()
    except (Exception, KeyboardInterrupt) as exc:
        failure = classify(exc)
        if isinstance(exc, KeyboardInterrupt):
            _say("interrupted")
        else:
            _say(failure.message if failure.error is None else f"error: {failure.message}")
        return failure.exit_code


def write_traceback(exc: BaseException, run_dir: Path | None = None) -> Path:
    """`traceback.log` in the run's artifacts dir, else a `ci-toolkit-crash-*.log` temporary file."""
    text = REDACTOR("".join(traceback.format_exception(exc)))
    if run_dir is not None:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            path = run_dir / "traceback.log"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            pass  # an unwritable artifacts dir must not hide the bug: fall back to a temporary file
    fd, name = tempfile.mkstemp(prefix="ci-toolkit-crash-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(name)


def _say(text: str) -> None:
    sys.stderr.write(REDACTOR(text) + "\n")
    sys.stderr.flush()
