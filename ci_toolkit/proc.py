"""The one place that runs processes: `run()` captures a short command's output, `stream()`
hands a long one's (pytest's) to a callback line by line. Both merge `env` over the current
environment, start the child in its own session, stop it one way (`_Supervisor`, `_stop`) and
record it in `COMMAND_LOG` for the diagnostics bundle (which redacts it when it is written).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol

from ci_toolkit.command_log import COMMAND_LOG, RECORDED_CHARS, CommandLog, CommandRecord, Tail, echo
from ci_toolkit.errors import CommandError

__all__ = ["COMMAND_LOG", "RECORDED_CHARS", "CommandLog", "CommandRecord", "run", "start_daemon", "stream"]

log = logging.getLogger("ci_toolkit.proc")

TIMED_OUT = "timed out"  # `Streamed.stopped`: why ci-toolkit stopped the child
CANCELLED = "cancelled"


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
    A timeout or setting `cancel` kills the child and raises `CommandError` with returncode None.
    """
    argv, workdir = [str(part) for part in cmd], os.fspath(cwd) if cwd is not None else os.getcwd()
    started = time.monotonic()
    stdin = subprocess.PIPE if input is not None else subprocess.DEVNULL
    child = _spawn(argv, env, workdir, stdin=stdin, stderr=subprocess.PIPE)
    supervisor = _Supervisor(child, grace=0).start(timeout, cancel)  # a short command is killed outright
    try:
        out, err = child.communicate(input)
    except BaseException:  # a signal turned into an exception: never leave the child behind
        _stop(child, 0)
        child.wait()
        raise
    finally:
        supervisor.finished.set()
    returncode = None if supervisor.reason else child.returncode  # None: killed
    COMMAND_LOG.add(CommandRecord(tuple(argv), workdir, returncode, time.monotonic() - started, out, err))
    if supervisor.reason == TIMED_OUT:
        raise CommandError(argv, None, out, err, timeout=timeout)
    if supervisor.reason == CANCELLED:
        raise CommandError(argv, None, out, err + "\n(cancelled)")
    if check and child.returncode != 0:
        raise CommandError(argv, child.returncode, out, err)
    return subprocess.CompletedProcess(argv, child.returncode, out, err)


class Child(Protocol):
    """A running child as `stream` drives it: a `subprocess.Popen`, or a pytest forked by a
    lease's zygote (`reuse.zygote.ForkedPytest`)."""

    pid: int
    stdout: IO[str] | None
    stderr: IO[str] | None
    returncode: int | Any

    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int | Any: ...
    def send_signal(self, sig: int) -> None: ...


_DAEMONS: list[subprocess.Popen[str]] = []  # referenced so that exiting does not warn about them


def start_daemon(
    cmd: Sequence[str], *, env: Mapping[str, str], cwd: str | os.PathLike[str], ready: str, timeout: float
) -> int | None:
    """Start a long-lived helper (a lease's pytest zygote) in its own session and wait until it
    prints `ready`; its pid, or None if it did not (then it is killed). It outlives this process."""
    argv, workdir = [str(part) for part in cmd], os.fspath(cwd)
    child = _spawn(argv, env, workdir, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(child.stdout.readline() if child.stdout else ""))
    reader.daemon = True
    reader.start()
    reader.join(timeout)
    if not first or first[0].strip() != ready:
        _stop(child, 0)
        child.wait()
        echo(tuple(argv), "not ready, killed")
        return None
    _DAEMONS.append(child)
    echo(tuple(argv), f"started, pid {child.pid}")  # it outlives us: no end to report
    return child.pid


def signal_process(pid: int, signum: int) -> bool:
    """Send `signum` to a process this user started outside `run`/`stream` (a lease's zygote, a
    pytest it forked); signal 0 only asks whether it is alive. False if it is gone."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, and someone else's: never ours to signal
    return True


@dataclass(frozen=True)
class Streamed:
    """How a streamed command ended; `stopped` is TIMED_OUT or CANCELLED if ci-toolkit stopped it."""

    cmd: tuple[str, ...]
    returncode: int
    seconds: float
    stopped: str | None
    stderr: str  # the end of stderr, when it was not merged into the lines


def stream(
    cmd: Sequence[str],
    *,
    on_line: Callable[[str], None],
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    merge_stderr: bool = False,
    timeout: float | None = None,
    cancel: threading.Event | None = None,
    watch: Callable[[], None] | None = None,
    interval: float = 0.1,
    grace: float = 10.0,
    running: Child | None = None,
) -> Streamed:
    """Run a long command, handing each line it writes (without the newline) to `on_line` in
    the calling thread as it comes. A non-zero exit code is the caller's to judge.

    Every `interval` seconds `timeout` and `cancel` are checked and `watch` is called; `watch`
    may raise to stop the child, and its exception is raised here once the child has stopped.
    Stopping is graceful: SIGINT to the child's session, SIGKILL `grace` seconds later. An
    exception in the calling thread (a signal, Ctrl-C) stops the child the same way and is
    re-raised; what the child writes while it stops (pytest's reports) still reaches `on_line`.
    `running`: a child already running `cmd` (forked by a zygote) instead of a new one.
    """
    argv, workdir = [str(part) for part in cmd], os.fspath(cwd) if cwd is not None else os.getcwd()
    started = time.monotonic()
    err_pipe = subprocess.STDOUT if merge_stderr else subprocess.PIPE
    child = running or _spawn(argv, env, workdir, stdin=subprocess.DEVNULL, stderr=err_pipe)
    supervisor = _Supervisor(child, grace).start(timeout, cancel, watch, interval)
    output, errors = Tail(), Tail()
    err_reader = threading.Thread(target=_pump, args=(child.stderr, errors.add), daemon=True)
    err_reader.start()

    def take(line: str) -> None:
        output.add(line)
        on_line(line)

    try:
        try:
            _pump(child.stdout, take)
            child.wait()
        except BaseException:
            threading.Thread(target=supervisor.stop, args=("interrupted",), daemon=True).start()
            try:
                _pump(child.stdout, take)
            except BaseException:  # interrupted again while it stops: no more grace
                _stop(child, 0)
            child.wait()
            raise
    finally:
        supervisor.finished.set()
        err_reader.join(timeout=5)  # a grandchild may hold stderr open: do not wait for it
        note = f"({supervisor.reason})" if supervisor.reason else ""
        seconds = time.monotonic() - started
        stderr = "\n".join(part for part in (errors.text(), note) if part)
        COMMAND_LOG.add(CommandRecord(tuple(argv), workdir, child.returncode, seconds, output.text(), stderr))
    if supervisor.error is not None:
        raise supervisor.error
    stopped = supervisor.reason if supervisor.reason in (TIMED_OUT, CANCELLED) else None
    return Streamed(tuple(argv), child.returncode, seconds, stopped, errors.text())


class _Supervisor:
    """Stops a child once, for the first reason that comes: its timeout, `cancel`, `watch`
    raising, or (streamed) the caller's thread being interrupted. A finished one is left alone."""

    def __init__(self, child: Child, grace: float) -> None:
        self.child, self.grace = child, grace
        self.reason: str | None = None
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self._lock = threading.Lock()

    def stop(self, reason: str, error: BaseException | None = None) -> None:
        with self._lock:
            if self.reason is not None or self.finished.is_set():
                return
            self.reason, self.error = reason, error
        _stop(self.child, self.grace)

    def start(
        self,
        timeout: float | None,
        cancel: threading.Event | None,
        watch: Callable[[], None] | None = None,
        interval: float = 0.1,
    ) -> _Supervisor:
        if timeout is None and cancel is None and watch is None:
            return self  # nothing to watch for
        deadline = None if timeout is None else time.monotonic() + timeout

        def supervise() -> None:
            while self.reason is None and not self.finished.wait(interval):
                if cancel is not None and cancel.is_set():
                    self.stop(CANCELLED)
                elif deadline is not None and time.monotonic() >= deadline:
                    self.stop(TIMED_OUT)
                elif watch is not None:
                    try:
                        watch()
                    except Exception as exc:  # raised in the caller's thread once the child stopped
                        self.stop(f"stopped: {exc}", exc)

        threading.Thread(target=supervise, daemon=True).start()
        return self


def _spawn(
    argv: list[str], env: Mapping[str, str] | None, workdir: str, *, stdin: int, stderr: int
) -> subprocess.Popen[str]:
    """Start `argv` in its own session, `env` merged over ours; a missing program is recorded
    and raised as `CommandError` with the shell's exit code 127."""
    log.debug("$ %s  (cwd=%s)", shlex.join(argv), workdir)
    try:
        return subprocess.Popen(
            argv,
            env={**os.environ, **env} if env is not None else None,
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=stdin,
            text=True,
            errors="replace",  # a stray byte in a tool's output must not crash the run
            start_new_session=True,
        )
    except FileNotFoundError:
        COMMAND_LOG.add(CommandRecord(tuple(argv), workdir, 127, 0.0, "", "not found"))
        raise CommandError(argv, 127, "", f"{argv[0]}: command not found") from None


def _pump(pipe: IO[str] | None, take: Callable[[str], None]) -> None:
    """Each line to `take` until the output ends; then the pipe is closed."""
    for line in pipe or ():
        take(line.removesuffix("\n"))
    if pipe is not None:
        pipe.close()


def _stop(child: Child, grace: float) -> None:
    """SIGINT first (pytest writes its reports on KeyboardInterrupt), SIGKILL after `grace`
    seconds (at once for grace 0). To the whole session: `docker compose` runs the compose
    plugin as a grandchild, pytest-xdist its workers; SIGKILL also takes any that outlived it."""
    if grace > 0 and child.poll() is None:
        _signal_session(child, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(grace)
    _signal_session(child, signal.SIGKILL)


def _signal_session(child: Child, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except (ProcessLookupError, PermissionError):
        child.send_signal(signum)  # does nothing once the child is reaped
