"""The one error boundary: maps errors to messages and documented exit codes."""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path

from ci_toolkit.errors import CiToolkitError, ExitCode
from ci_toolkit.redact import REDACTOR


def guarded(fn: Callable[[], int]) -> int:
    """Run a command; turn any exception into a message on stderr and an exit code."""
    try:
        return fn()
    except CiToolkitError as exc:
        _say(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        _say("interrupted")
        return ExitCode.INTERRUPTED
    except Exception as exc:
        log = write_crash_log(exc)
        _say(
            f"internal error (a bug in ci-toolkit): {exc!r}\n  the traceback is in {log}; "
            "please attach it to a bug report"
        )
        return ExitCode.INTERNAL


def write_crash_log(exc: BaseException) -> Path:
    fd, name = tempfile.mkstemp(prefix="ci-toolkit-crash-", suffix=".log")
    with os.fdopen(fd, "w") as fh:
        fh.write(REDACTOR("".join(traceback.format_exception(exc))))
    return Path(name)


def _say(text: str) -> None:
    sys.stderr.write(REDACTOR(text) + "\n")
    sys.stderr.flush()
