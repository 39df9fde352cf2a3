"""The one error boundary every command callback goes through.

A callback returns the command's exit code; the boundary runs it inside
`ci_toolkit.error_handler.guarded` (errors become a message and a documented exit code) and
hands the code to typer as `typer.Exit`, so no callback repeats either step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec

import typer

from ci_toolkit.error_handler import guarded

P = ParamSpec("P")


def with_error_boundary(callback: Callable[P, int]) -> Callable[P, None]:
    """The callback typer registers: same parameters and help (via `functools.wraps`, which typer
    reads through), run under `guarded`, its exit code raised as `typer.Exit`."""

    @functools.wraps(callback)
    def guarded_callback(*args: P.args, **kwargs: P.kwargs) -> None:
        raise typer.Exit(guarded(functools.partial(callback, *args, **kwargs)))

    return guarded_callback
