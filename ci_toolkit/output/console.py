"""What the user sees while a run goes on.

`Reporter` prints plain lines (CI logs, pipes, `CI=true`); `RichReporter` adds live
progress on a terminal. With `--json` all of it goes to stderr so stdout holds only the
result object. Every line passes through the redaction filter.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import IO, Any

from ci_toolkit.redact import REDACTOR
from ci_toolkit.results.model import PhaseResult, RunResult


class Reporter:
    def __init__(self, stream: IO[str] | None = None, *, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.quiet = quiet

    # -- primitives -------------------------------------------------------------------
    def line(self, text: str = "", *, always: bool = False) -> None:
        if self.quiet and not always:
            return
        self.stream.write(REDACTOR(text) + "\n")
        self.stream.flush()

    def info(self, text: str) -> None:
        self.line(text)

    def warn(self, text: str) -> None:
        self.line(f"warning: {text}", always=True)

    def error(self, text: str) -> None:
        self.line(f"error: {text}", always=True)

    def status_line(self, text: str) -> None:
        """A progress line made of ci-toolkit's own words, names from the config and numbers —
        never text from a container, a test or compose (those go through `line`)."""
        self.line(text)

    # -- run events -------------------------------------------------------------------
    def phase_start(self, name: str) -> None:
        self.status_line(f"==> {name}")

    def phase_end(self, phase: PhaseResult) -> None:
        mark = {"ok": "ok", "failed": "FAILED", "interrupted": "INTERRUPTED"}.get(phase.status, phase.status)
        detail = (
            f" ({phase.detail})"
            if phase.detail and (phase.status != "failed" or phase.name == "test")
            else ""
        )
        text = f"<== {phase.name} {mark} in {phase.seconds:.2f}s{detail}"
        if detail:  # a step's detail may quote foreign text (compose's stderr when collecting failed)
            self.line(text)
        else:
            self.status_line(text)

    def services_waiting(self, names: Iterable[str]) -> None:
        self.status_line(f"    waiting for: {', '.join(names)}")

    def service_ready(self, name: str, seconds: float) -> None:
        self.status_line(f"    {name}: ready in {seconds:.2f}s")

    def services_done(self) -> None:
        pass

    def test_output(self, text: str) -> None:
        self.line(text)

    def summary(self, result: RunResult) -> None:
        self.line("", always=True)
        self.line(f"{'phase':<10} {'status':<12} {'seconds':>8}", always=True)
        for phase in result.phases:
            self.line(f"{phase.name:<10} {phase.status:<12} {phase.seconds:>8.2f}", always=True)
        t = result.tests
        if t.total or result.status in ("passed", "tests_failed"):
            cov = "" if result.coverage_percent is None else f", coverage {result.coverage_percent:.1f}%"
            self.line(f"tests: {t.describe()}{cov}", always=True)
        for failure in t.failures:
            self.line(
                f"  FAILED {failure.id}: {failure.message.splitlines()[0] if failure.message else ''}",
                always=True,
            )
        for test in t.flaky:
            self.line(f"  FLAKY {test}: passed on a rerun", always=True)
        if result.artifacts_dir:
            self.line(f"artifacts: {result.artifacts_dir}", always=True)
        self.line(f"result: {result.status} (exit code {result.exit_code})", always=True)


class RichReporter(Reporter):
    """Live, one line per service while waiting: `postgres  waiting…` → `ready in 0.42s`."""

    def __init__(self, stream: IO[str] | None = None, *, quiet: bool = False) -> None:
        super().__init__(stream, quiet=quiet)
        from rich.console import Console

        self.console = Console(file=self.stream, highlight=False)
        self._live: Any = None
        self._status: dict[str, str] = {}

    def line(self, text: str = "", *, always: bool = False) -> None:
        if self.quiet and not always:
            return
        self.console.print(REDACTOR(text), markup=False)

    def phase_start(self, name: str) -> None:
        if not self.quiet:
            self.console.print(f"[bold cyan]==>[/] [bold]{name}[/]")

    def phase_end(self, phase: PhaseResult) -> None:
        if self.quiet:
            return
        colour = {"ok": "green", "failed": "red", "interrupted": "yellow"}.get(phase.status, "white")
        from rich.markup import escape

        detail = f" ({escape(REDACTOR(phase.detail))})" if phase.detail and phase.status != "failed" else ""
        self.console.print(
            f"[{colour}]<== {phase.name} {phase.status}[/] in {phase.seconds:.2f}s{detail}", markup=True
        )

    def services_waiting(self, names: Iterable[str]) -> None:
        if self.quiet:
            return
        from rich.live import Live

        self._status = {name: "[yellow]waiting…[/]" for name in names}
        self._live = Live(self._render(), console=self.console, refresh_per_second=12, transient=False)
        self._live.start()

    def service_ready(self, name: str, seconds: float) -> None:
        if self._live is None:
            return super().service_ready(name, seconds)
        self._status[name] = f"[green]ready[/] in {seconds:.2f}s"
        self._live.update(self._render())

    def services_done(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _render(self) -> Any:
        from rich.table import Table

        table = Table.grid(padding=(0, 2))
        for name, status in self._status.items():
            table.add_row(f"    {name}", status)
        return table


def make_reporter(
    *, json_mode: bool, quiet: bool, force_plain: bool = False, github: bool | None = None
) -> Reporter:
    """`github`: True/False forces GitHub Actions log groups on/off; None: on when GITHUB_ACTIONS=true."""
    stream = sys.stderr if json_mode else sys.stdout
    from ci_toolkit.output import github as gh

    if gh.enabled(github):
        from ci_toolkit.output.github_log import GitHubReporter

        return GitHubReporter(stream, quiet=quiet)
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if stream.isatty() and not in_ci and not force_plain and os.environ.get("TERM") != "dumb":
        return RichReporter(stream, quiet=quiet)
    return Reporter(stream, quiet=quiet)
