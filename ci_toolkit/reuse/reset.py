"""A reused (leased) stack back to "just migrated", before the tests of a warm run.

`take_baseline` runs once, right after migrations, and records what "just migrated" was (kept
in the lease as JSON). `reset` puts each checked service back to it: a service's own `reset`
hook if it has one, else the built-in for its kind: Postgres replaced by a copy of a template
taken after migrations (reset_postgres.py), Redis FLUSHALL, JetStream streams and consumers made
since deleted and streams that were empty purged (reset_nats.py). http/tcp checks without a hook
are not reset, only noted. Services are reset in parallel threads: ~25-35 ms in all.
"""

from __future__ import annotations

import shlex
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from ci_toolkit.errors import CiToolkitError, CommandError, InfrastructureError
from ci_toolkit.reuse import reset_nats, reset_postgres
from ci_toolkit.reuse.reset_nats import NatsResetError, StreamBaseline
from ci_toolkit.reuse.reset_postgres import PgBaseline, PgResetError
from ci_toolkit.stack import pgwire, probes

if TYPE_CHECKING:  # types only: the warm path imports what it runs, no more
    from ci_toolkit.config import ServiceCheck
    from ci_toolkit.results.model import ServiceResult
    from ci_toolkit.stack.compose import Stack

__all__ = [
    "Baseline",
    "NatsBaseline",
    "PgBaseline",
    "StreamBaseline",
    "reset",
    "take_baseline",
    "wait_for_background",
]

BASELINE_VERSION = 1
RESET_HINT = "the lease is discarded; the next run starts a fresh stack"
BASELINE_HINT = "the stack is not kept for reuse; the next run starts a fresh stack"
README_REUSE = "see README 'Fast re-runs'"
HOOK_OUTPUT_LINES = 15  # how much of a failed hook's output the error shows (its end)

OnReset = Callable[[str, str, float], None]  # (service, what was done, seconds)


@dataclass(frozen=True)
class NatsBaseline:
    streams: Mapping[str, StreamBaseline]  # stream -> its consumers and message count

    def to_dict(self) -> dict[str, Any]:
        return {"streams": {name: s.to_dict() for name, s in sorted(self.streams.items())}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NatsBaseline:
        return cls({str(name): StreamBaseline.from_dict(s) for name, s in data["streams"].items()})


@dataclass(frozen=True)
class Baseline:
    """What "just migrated" was: recorded in the lease when the first run finishes migrating."""

    postgres: Mapping[str, PgBaseline] = field(default_factory=dict)  # service -> database + template
    nats: Mapping[str, NatsBaseline] = field(default_factory=dict)  # service -> streams at that point

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": BASELINE_VERSION,
            "postgres": {name: pg.to_dict() for name, pg in sorted(self.postgres.items())},
            "nats": {name: js.to_dict() for name, js in sorted(self.nats.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        try:
            if data.get("version") != BASELINE_VERSION:
                raise ValueError(f"version {data.get('version')!r}, expected {BASELINE_VERSION}")
            postgres = {str(k): PgBaseline.from_dict(v) for k, v in data["postgres"].items()}
            nats = {str(k): NatsBaseline.from_dict(v) for k, v in data["nats"].items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InfrastructureError(
                f"the lease's reset baseline is unreadable ({type(exc).__name__}: {exc})", hint=RESET_HINT
            ) from None
        return cls(postgres, nats)


def take_baseline(
    checks: Sequence[ServiceCheck], services: Mapping[str, ServiceResult], *, timeout: float
) -> Baseline:
    """Right after migrations: a template copy of each Postgres database (other connections to
    it are ended first: the copy needs none), and the streams and consumers of each JetStream."""
    tasks: dict[str, Callable[[], object]] = {}
    for check in checks:
        if check.reset:
            continue  # its hook is the whole reset: nothing to record
        if check.kind == "postgres":
            host, port = _address(check, services, BASELINE_HINT)
            tasks[check.name] = partial(reset_postgres.take, check, host, port, timeout)
        elif check.kind == "nats" and check.jetstream:
            host, port = _address(check, services, BASELINE_HINT)
            tasks[check.name] = partial(_take_nats, host, port, timeout, probes.nats_auth(check))
    done = _in_parallel(tasks, "recording the state after migrations", BASELINE_HINT)
    return Baseline(
        postgres={name: v for name, (v, _) in done.items() if isinstance(v, PgBaseline)},
        nats={name: v for name, (v, _) in done.items() if isinstance(v, NatsBaseline)},
    )


def wait_for_background(timeout: float) -> bool:
    """Wait until the work a reset or baseline left running is done (Postgres: the next spare
    copy); True if it finished. Optional: a run may exit without waiting (the next reset is then
    slower, never wrong). Tests call it for a reset that takes the fast path."""
    return reset_postgres.settle(timeout)


def _take_nats(host: str, port: int, timeout: float, auth: Mapping[str, str]) -> NatsBaseline:
    return NatsBaseline(reset_nats.take(host, port, timeout, auth))


def reset(
    checks: Sequence[ServiceCheck],
    services: Mapping[str, ServiceResult],
    baseline: Baseline,
    stack: Stack,
    *,
    timeout: float,
    on_reset: OnReset = lambda service, what, seconds: None,
) -> list[str]:
    """Put every checked service back to `baseline`, in parallel. Returns a note for each service
    that is not reset (an http/tcp check without a reset hook); calls `on_reset` per service
    reset, in the order of `checks`. Raises InfrastructureError naming what failed."""
    notes: list[str] = []
    tasks: dict[str, Callable[[], object]] = {}
    cancel = threading.Event()
    for check in checks:
        task = _reset_task(check, services, baseline, stack, timeout, cancel)
        if task is None:
            notes.append(f"{check.name}: not reset (no reset hook; {README_REUSE})")
        else:
            tasks[check.name] = task
    try:
        done = _in_parallel(tasks, "reset", RESET_HINT)
    finally:
        cancel.set()  # interrupted while waiting: stop any hook still running
    for name, (what, seconds) in done.items():
        on_reset(name, str(what), seconds)
    return notes


def _reset_task(
    check: ServiceCheck,
    services: Mapping[str, ServiceResult],
    baseline: Baseline,
    stack: Stack,
    timeout: float,
    cancel: threading.Event,
) -> Callable[[], object] | None:
    """What resets this service (not run yet), or None if nothing can."""
    if check.reset:
        return partial(_run_hook, stack, check, timeout, cancel)
    if check.kind in ("http", "tcp"):
        return None
    if check.kind == "nats" and not check.jetstream:
        return lambda: "nothing to reset (core NATS keeps no state)"
    host, port = _address(check, services, RESET_HINT)
    if check.kind == "redis":
        return partial(_flush_redis, host, port, timeout, probes.redis_auth(check))
    if check.kind == "postgres":
        return partial(reset_postgres.reset, check, host, port, _recorded(baseline.postgres, check), timeout)
    return partial(_reset_nats, host, port, _recorded(baseline.nats, check), timeout, probes.nats_auth(check))


def _reset_nats(host: str, port: int, baseline: NatsBaseline, timeout: float, auth: Mapping[str, str]) -> str:
    return "JetStream: " + reset_nats.reset(host, port, baseline.streams, timeout, auth)


def _recorded(recorded: Mapping[str, Any], check: ServiceCheck) -> Any:
    if check.name not in recorded:
        raise InfrastructureError(
            f"{check.name}: cannot reset {check.kind}: the lease recorded no baseline for it "
            "(was it added to the config after the stack was leased?)",
            hint=RESET_HINT,
        )
    return recorded[check.name]


def _run_hook(stack: Stack, check: ServiceCheck, timeout: float, cancel: threading.Event) -> str:
    command = shlex.join(check.reset)
    try:
        stack.run("exec", "-T", check.name, *check.reset, timeout=timeout, cancel=cancel)
    except CommandError as exc:
        output = (exc.stderr.strip() + "\n" + exc.stdout.strip()).strip()
        tail = "\n".join(f"    {line}" for line in output.splitlines()[-HOOK_OUTPUT_LINES:])
        if exc.timeout is not None:
            how = f"did not finish within {exc.timeout:g}s"
        elif exc.returncode is None:
            how = "was cancelled"
        else:
            how = f"failed with exit code {exc.returncode}"
        raise InfrastructureError(
            f"{check.name}: the reset hook `{command}` (docker compose exec -T {check.name} ...) {how}"
            + (f":\n{tail}" if tail else " and printed nothing"),
            hint=f"fix `reset` in [services.{check.name}]; {RESET_HINT}",
        ) from None
    return f"reset hook `{command}` ran"


def _flush_redis(host: str, port: int, timeout: float, auth: bytes) -> str:
    """FLUSHALL, after AUTH for a protected server (`auth`: the AUTH command, or b"")."""
    expected = (b"+OK\r\n" if auth else b"") + b"+OK\r\n"
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(auth + b"FLUSHALL\r\n")
        reply = b""
        while reply.count(b"\r\n") < expected.count(b"\r\n") and not reply.startswith(b"-"):
            chunk = sock.recv(256)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            reply += chunk
    if reply != expected:
        text = reply.strip().splitlines()[-1].decode(errors="replace") if reply.strip() else ""
        raise ValueError(f"FLUSHALL answered {text!r} (a renamed command needs a reset hook)")
    return "FLUSHALL"


def _address(check: ServiceCheck, services: Mapping[str, ServiceResult], hint: str) -> tuple[str, int]:
    result = services.get(check.name)
    if result is None or check.port not in result.ports:
        raise InfrastructureError(
            f"{check.name}: container port {check.port} is not published to the host", hint=hint
        )
    return result.host, result.ports[check.port]


# What a service's failure may be; anything else is a bug and is raised as it is.
_EXPECTED = (PgResetError, NatsResetError, pgwire.PgError, OSError, ValueError)


def _in_parallel(
    tasks: Mapping[str, Callable[[], object]], what: str, hint: str
) -> dict[str, tuple[object, float]]:
    """Run each service's task in its own thread; (value, seconds) by service, in task order.
    Every failure is collected and raised as one InfrastructureError naming each service. This
    thread only waits, so a signal's exception (Interrupted) reaches the caller at once."""
    results: dict[str, tuple[object, float]] = {}
    failures: dict[str, Exception] = {}

    def work(name: str, task: Callable[[], object]) -> None:
        started = time.perf_counter()
        try:
            results[name] = (task(), time.perf_counter() - started)
        except Exception as exc:  # handed to the caller's thread
            failures[name] = exc

    threads = [threading.Thread(target=work, args=item, daemon=True) for item in tasks.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bugs = [exc for exc in failures.values() if not isinstance(exc, (CiToolkitError, *_EXPECTED))]
    if bugs:
        raise bugs[0]
    problems = [_describe(name, failures[name], what) for name in tasks if name in failures]
    if len(problems) == 1:
        (only,) = failures.values()
        raise InfrastructureError(problems[0], hint=getattr(only, "hint", None) or hint)
    if problems:
        listed = "\n".join("  - " + p.replace("\n", "\n    ") for p in problems)
        raise InfrastructureError(f"{what} failed for {len(problems)} services:\n{listed}", hint=hint)
    return {name: results[name] for name in tasks}


def _describe(name: str, exc: Exception, what: str) -> str:
    if isinstance(exc, CiToolkitError):
        return exc.message  # already names the service (a hook)
    detail = f"{type(exc).__name__}: {exc}" if isinstance(exc, OSError) else str(exc)  # "timed out"
    return f"{name}: {what} failed: {detail}"
