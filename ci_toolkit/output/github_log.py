"""The live log in GitHub Actions: a collapsible group per phase, and every line that may quote
foreign text (pytest's output, service log lines in an error, compose's stderr) inside a
`::stop-commands::TOKEN` … `::TOKEN::` fence with a fresh random token, so that no container
or test can issue a workflow command — the runner trims indentation before it looks for `::`,
and finds the legacy `##[` anywhere in a line, but obeys neither inside a fence.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator
from typing import IO

from ci_toolkit.output.console import Reporter
from ci_toolkit.output.github import command
from ci_toolkit.redact import REDACTOR
from ci_toolkit.results.model import PhaseResult, RunResult

# What the runner could take for a workflow command: `::` (at a line's start once indentation is
# trimmed), the legacy `##[` anywhere in a line, and a lone CR, which ends a line for the runner.
_COMMAND_LIKE = re.compile(r"::|##\[|\r")


class GitHubReporter(Reporter):
    """Plain lines, with a collapsible log group per phase and its result line after it.

    Every line that may carry foreign text — anything through `line`: errors quoting service
    logs or compose's stderr, pytest's output, the summary's failure messages — is printed
    inside a stop-commands fence; only ci-toolkit's own commands and status lines are not."""

    def __init__(self, stream: IO[str] | None = None, *, quiet: bool = False) -> None:
        super().__init__(stream, quiet=quiet)
        self._fence: str | None = None

    def emit(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def line(self, text: str = "", *, always: bool = False) -> None:
        if self.quiet and not always:
            return
        with self.fenced():
            self.emit(REDACTOR(text))

    def status_line(self, text: str) -> None:
        if self.quiet:
            return
        safe = REDACTOR(text)
        if _COMMAND_LIKE.search(safe):  # a service or phase name that looks like a command
            with self.fenced():
                self.emit(safe)
        else:
            self.emit(safe)

    @contextlib.contextmanager
    def fenced(self) -> Iterator[None]:
        """Stop the runner's command processing around what is printed inside, unless a fence
        is already open. The token is random per fence: foreign text cannot end it early."""
        if self._fence is not None:
            yield
            return
        self._open_fence()
        try:
            yield
        finally:
            self._close_fence()

    def _open_fence(self) -> None:
        self._fence = secrets.token_hex(16)
        self.emit(f"::stop-commands::{self._fence}")

    def _close_fence(self) -> None:
        if self._fence is not None:
            self.emit(f"::{self._fence}::")
            self._fence = None

    def _command(self, line: str) -> None:
        self._close_fence()  # inside a fence the runner would ignore it
        self.emit(line)

    def phase_start(self, name: str) -> None:
        if not self.quiet:
            self._command(command("group", name))
        super().phase_start(name)  # the same lines as elsewhere, inside the group

    def test_output(self, text: str) -> None:
        if self._fence is None and not self.quiet:
            self._open_fence()  # one fence for all of pytest's output, closed at phase_end
        super().test_output(text)

    def phase_end(self, phase: PhaseResult) -> None:
        self._close_fence()
        if not self.quiet:
            self.emit("::endgroup::")
        super().phase_end(phase)

    def summary(self, result: RunResult) -> None:
        with self.fenced():  # one fence for the whole table: failure messages are pytest's text
            super().summary(result)
