"""proc, the one runner of child processes, with real short-lived python children: streamed
lines, stderr, timeouts, cancel, the graceful stop (SIGINT, then SIGKILL) and the record."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_toolkit import proc
from ci_toolkit.errors import CommandError

# A child that says when it got SIGINT and exits 2 (as pytest does after writing its reports).
TRAPS_SIGINT = """
import signal, sys, time
def stop(signum, frame):
    print("got SIGINT, stopping", flush=True)
    sys.exit(2)
signal.signal(signal.SIGINT, stop)
print("ready", flush=True)
time.sleep(30)
print("slept to the end", flush=True)
"""


def child(code: str, tmp_path: Path) -> list[str]:
    """A python child; `tmp_path` as its argument makes the command (and its record) unique."""
    return [sys.executable, "-c", textwrap.dedent(code), str(tmp_path)]


def record_of(cmd: list[str]) -> proc.CommandRecord:
    found = [r for r in proc.COMMAND_LOG.records() if list(r.cmd) == cmd]
    assert len(found) == 1, f"{len(found)} records of {cmd}"
    return found[0]


def test_lines_arrive_in_order_while_the_child_still_runs(tmp_path: Path) -> None:
    # The child goes on only once the parent has seen its fifth line: lines are handed over
    # as they are written, not when the child exits.
    code = """
    import pathlib, sys, time
    for i in range(5):
        print(f"line {i}", flush=True)
    go, deadline = pathlib.Path(sys.argv[1]) / "go", time.monotonic() + 10
    while not go.exists():
        if time.monotonic() > deadline:
            print("nobody read my lines", flush=True)
            sys.exit(3)
        time.sleep(0.01)
    print("went on", flush=True)
    """
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        if line == "line 4":
            (tmp_path / "go").touch()

    result = proc.stream(child(code, tmp_path), on_line=on_line)
    assert lines == [f"line {i}" for i in range(5)] + ["went on"]
    assert result.returncode == 0 and result.stopped is None


def test_stderr_is_merged_into_the_lines_when_asked_and_kept_apart_otherwise(tmp_path: Path) -> None:
    code = """
    import sys
    print("out 1", flush=True)
    print("err 1", file=sys.stderr, flush=True)
    print("out 2", flush=True)
    """
    merged: list[str] = []
    proc.stream(child(code, tmp_path), on_line=merged.append, merge_stderr=True)
    assert merged == ["out 1", "err 1", "out 2"]
    apart: list[str] = []
    result = proc.stream(child(code, tmp_path / "apart"), on_line=apart.append)
    assert apart == ["out 1", "out 2"] and result.stderr == "err 1\n"


def test_env_is_merged_over_the_current_environment(tmp_path: Path) -> None:
    code = """
    import os
    print(os.environ["PROC_TEST_ADDED"], "PATH" in os.environ)
    """
    lines: list[str] = []
    proc.stream(child(code, tmp_path), on_line=lines.append, env={"PROC_TEST_ADDED": "added"})
    assert lines == ["added True"]


def test_timeout_stops_the_child_gracefully_and_is_reported(tmp_path: Path) -> None:
    cmd = child(TRAPS_SIGINT, tmp_path)
    lines: list[str] = []
    started = time.monotonic()
    result = proc.stream(cmd, on_line=lines.append, timeout=0.5, grace=5)
    assert time.monotonic() - started < 4
    assert result.stopped == proc.TIMED_OUT and result.returncode == 2
    assert lines == ["ready", "got SIGINT, stopping"]  # what it wrote while stopping was read too
    record = record_of(cmd)
    assert record.returncode == 2 and "(timed out)" in record.stderr


def test_a_child_that_ignores_sigint_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    code = """
    import signal, time
    signal.signal(signal.SIGINT, lambda signum, frame: print("ignoring SIGINT", flush=True))
    print("ready", flush=True)
    for _ in range(300):
        time.sleep(0.1)
    """
    lines: list[str] = []
    started = time.monotonic()
    result = proc.stream(child(code, tmp_path), on_line=lines.append, timeout=0.3, grace=1)
    took = time.monotonic() - started
    assert lines == ["ready", "ignoring SIGINT"]  # SIGINT first ...
    assert result.returncode == -signal.SIGKILL and 1.2 < took < 5  # ... SIGKILL after the grace


def test_cancel_stops_the_child(tmp_path: Path) -> None:
    cancel = threading.Event()
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        cancel.set()

    started = time.monotonic()
    result = proc.stream(child(TRAPS_SIGINT, tmp_path), on_line=on_line, cancel=cancel, grace=5)
    assert time.monotonic() - started < 4
    assert result.stopped == proc.CANCELLED and lines == ["ready", "got SIGINT, stopping"]


class ServiceDied(Exception):
    pass


def test_watch_raising_stops_the_child_then_its_error_is_raised(tmp_path: Path) -> None:
    cmd = child(TRAPS_SIGINT, tmp_path)
    lines: list[str] = []

    def watch() -> None:
        if lines:
            raise ServiceDied("redis went away")

    with pytest.raises(ServiceDied, match="redis went away"):
        proc.stream(cmd, on_line=lines.append, watch=watch, interval=0.05, grace=5)
    assert lines == ["ready", "got SIGINT, stopping"]  # raised once the child had stopped
    record = record_of(cmd)
    assert record.returncode == 2 and "(stopped: redis went away)" in record.stderr


class Signalled(Exception):
    pass


class SelfSignal:
    """Sends SIGUSR1 to this process, whose handler raises in the main thread as ci-toolkit's
    SIGINT/SIGTERM handler does; a signal that comes after the test is swallowed."""

    def __init__(self) -> None:
        self.armed = True
        self.timers: list[threading.Timer] = []

    def handle(self, signum: int, frame: object) -> None:
        if self.armed:
            raise Signalled

    def send_after(self, seconds: float) -> None:
        self.timers.append(threading.Timer(seconds, os.kill, args=(os.getpid(), signal.SIGUSR1)))
        self.timers[-1].start()


@pytest.fixture
def self_signal() -> Iterator[SelfSignal]:
    sender = SelfSignal()
    previous = signal.signal(signal.SIGUSR1, sender.handle)
    try:
        yield sender
    finally:
        sender.armed = False
        for timer in sender.timers:
            timer.join()
        signal.signal(signal.SIGUSR1, previous)


def test_a_signal_to_the_parent_stops_the_child_gracefully_and_is_reraised(
    tmp_path: Path, self_signal: SelfSignal
) -> None:
    cmd = child(TRAPS_SIGINT, tmp_path)
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        if line == "ready":  # comes while the parent waits for the next line
            self_signal.send_after(0.2)

    with pytest.raises(Signalled):
        proc.stream(cmd, on_line=on_line, grace=5)
    assert lines == ["ready", "got SIGINT, stopping"]
    record = record_of(cmd)
    assert record.returncode == 2 and "(interrupted)" in record.stderr


def test_the_record_keeps_the_end_of_a_long_output_in_whole_lines(tmp_path: Path) -> None:
    code = """
    for i in range(20000):
        print(f"line {i:06}")
    print("x" * 70 * 1024)
    print("last")
    """
    cmd = child(code, tmp_path)
    result = proc.stream(cmd, on_line=lambda line: None, cwd=tmp_path)
    record = record_of(cmd)
    assert record.cwd == str(tmp_path) and record.returncode == result.returncode == 0
    assert 0 < record.seconds == result.seconds
    header, first, *_ = record.stdout.splitlines()
    assert header.endswith("earlier lines not kept]") and first.startswith("line ")
    assert len(first) == len("line 000000")  # a whole line, not the end of one
    assert record.stdout.endswith("line 019999\n[a line of 71680 characters, not kept]\nlast\n")
    assert len(record.stdout) <= proc.RECORDED_CHARS + 100


def test_run_captures_output_and_raises_on_failure_as_before(tmp_path: Path) -> None:
    ok = proc.run(child("print('hello')", tmp_path))
    assert ok.returncode == 0 and ok.stdout == "hello\n"
    failing = child("import sys; print('bad', file=sys.stderr); sys.exit(4)", tmp_path)
    with pytest.raises(CommandError) as info:
        proc.run(failing)
    assert info.value.returncode == 4 and "bad" in str(info.value)
    assert record_of(failing).returncode == 4


def test_run_timeout_kills_the_child_and_says_so(tmp_path: Path) -> None:
    cmd = child("import time; print('started', flush=True); time.sleep(30)", tmp_path)
    started = time.monotonic()
    with pytest.raises(CommandError, match=r"command timed out after 0\.5s") as info:
        proc.run(cmd, timeout=0.5)
    assert time.monotonic() - started < 3 and info.value.stdout == "started\n"
    assert record_of(cmd).returncode is None


def test_run_cancel_kills_the_child(tmp_path: Path) -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(CommandError) as info:
        proc.run(child("import time; time.sleep(30)", tmp_path), cancel=cancel)
    assert time.monotonic() - started < 3 and info.value.returncode is None
    assert "(cancelled)" in info.value.stderr


def test_a_missing_program_is_exit_code_127(tmp_path: Path) -> None:
    missing = [str(tmp_path / "no-such-program")]
    with pytest.raises(CommandError, match="command not found") as info:
        proc.stream(missing, on_line=lambda line: None)
    assert info.value.returncode == 127 and record_of(missing).returncode == 127
