"""SIGINT, SIGTERM, SIGHUP (the terminal closed, SSH dropped) and SIGQUIT become an
`Interrupted` exception, so teardown runs in `finally`; exit code 128 + the signal's number.

Once teardown has begun, a further signal never aborts it: it only asks for a forced,
faster teardown (no graceful stop period).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from ci_toolkit.errors import Interrupted

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class SignalGuard:
    """Raises `Interrupted` only while a step runs (`armed`): a signal between steps, or while
    the pipeline is deciding to tear down, is recorded and acted on at the next check, so it
    can never skip the teardown that a `finally` is about to start."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.in_teardown = False
        self.armed = False
        self.force = threading.Event()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.in_teardown or self.received is not None:
            self.received = self.received or signum
            self.force.set()
            return
        self.received = signum
        if self.armed:
            raise Interrupted(signum)

    @contextmanager
    def step(self) -> Iterator[None]:
        """Signals interrupt the body; a signal that came before it interrupts it at once."""
        self.raise_if_received()
        self.armed = True
        try:
            yield
        finally:
            self.armed = False

    def raise_if_received(self) -> None:
        if self.received is not None and not self.in_teardown:
            raise Interrupted(self.received)

    @contextmanager
    def installed(self) -> Iterator[SignalGuard]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous: dict[int, Any] = {sig: signal.signal(sig, self._handle) for sig in HANDLED}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def teardown(self) -> None:
        """From here on, signals only set `force`."""
        self.in_teardown = True
