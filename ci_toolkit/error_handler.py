"""The one error boundary: every exception becomes a status, a documented exit code and a message
here, whether it ends a command (`guarded`) or a run (`classify`, used for `RunResult`).

An error that is not a `CiToolkitError` is a bug in ci-toolkit: its traceback is written by
`write_traceback` (the one writer) into the run's artifacts dir, or a temporary file when there
is none yet, and the message says where.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ci_toolkit.errors import ArtifactsUnwritable, CiToolkitError, ExitCode, Interrupted
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
    if isinstance(exc, OSError) and exc.errno in FULL_DISK:  # the machine's fault, not a bug
        exc = disk_full(exc, Path(exc.filename) if exc.filename else run_dir)
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


FULL_DISK = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})


def disk_full(exc: OSError, path: Path | None) -> ArtifactsUnwritable:
    """ENOSPC / EDQUOT / EROFS while writing `path`: say so, with the free space where it failed."""
    what = os.strerror(exc.errno or errno.ENOSPC).lower()  # "no space left on device", ...
    where = f" writing {path}" if path is not None else ""
    free = _free_space(path)
    error = ArtifactsUnwritable(
        f"{what}{where}" + (f" ({free} free there)" if free else ""),
        hint="free some space, or point --artifacts-dir (artifacts_dir in the config) at a "
        "filesystem with room; the stack was torn down all the same",
    )
    error.__cause__ = exc
    return error


def _free_space(path: Path | None) -> str:
    probe = path
    while probe is not None and not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe is None:
        return ""
    try:
        free = float(shutil.disk_usage(probe).free)
    except OSError:
        return ""
    if free < 1024:
        return f"{free:.0f} bytes"
    for unit in ("KiB", "MiB", "GiB"):
        free /= 1024
        if free < 1024 or unit == "GiB":
            break
    return f"{free:.1f} {unit}"


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
    """The final error of a command. It may quote foreign text (service log lines, compose's
    stderr): in GitHub Actions it goes inside a stop-commands fence, so the runner obeys none of it."""
    safe = REDACTOR(text)
    if os.environ.get("GITHUB_ACTIONS", "").lower() == "true":
        token = secrets.token_hex(16)
        safe = f"::stop-commands::{token}\n{safe}\n::{token}::"
    sys.stderr.write(safe + "\n")
    sys.stderr.flush()
