"""Timing and reporting one phase: the only place a `PhaseResult` is made."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from ci_toolkit.errors import Interrupted
from ci_toolkit.output.console import Reporter
from ci_toolkit.pipeline.state import Product
from ci_toolkit.results.model import PhaseResult
from ci_toolkit.signals import SignalGuard

P = TypeVar("P", bound=Product)


class Timeline:
    """The phases of one run (or one soak iteration), in the order they ran."""

    def __init__(self, reporter: Reporter, guard: SignalGuard) -> None:
        self.reporter = reporter
        self.guard = guard
        self.phases: list[PhaseResult] = []

    def timed(self, name: str, step: Callable[[], P]) -> P:
        """Run one step with signals armed; record and report its phase whatever happens."""
        self.reporter.phase_start(name)
        started = time.monotonic()
        status, detail = "failed", ""
        try:
            with self.guard.step():
                product = step()
            status, detail = product.status, product.detail
            return product
        except (Interrupted, KeyboardInterrupt):
            status = "interrupted"
            raise
        finally:
            phase = PhaseResult(name, status, time.monotonic() - started, detail)
            self.phases.append(phase)
            self.reporter.phase_end(phase)
