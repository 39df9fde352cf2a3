"""The one error boundary every command callback goes through.

A callback returns the command's exit code; the boundary runs it inside
`ci_toolkit.error_handler.guarded` (errors become a message and a documented exit code) and
hands the code to typer as `typer.Exit`, so no callback repeats either step. It also gives
every command `-v/--verbose` (the app callback takes it too, before the command), so the option
is declared once and works where users type it: `ci-toolkit stack up -v`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec

import typer

from ci_toolkit import command_log
from ci_toolkit.cli.options import VerboseOpt
from ci_toolkit.error_handler import guarded

P = ParamSpec("P")
VERBOSE = "verbose"


def with_error_boundary(callback: Callable[P, int]) -> Callable[P, None]:
    """The callback typer registers: same parameters and help (via `functools.wraps`, which typer
    reads through) plus `--verbose`, run under `guarded`, its exit code raised as `typer.Exit`."""

    @functools.wraps(callback)
    def guarded_callback(*args: Any, **kwargs: Any) -> None:
        if kwargs.pop(VERBOSE, False):
            command_log.set_verbose(True)
        raise typer.Exit(guarded(functools.partial(callback, *args, **kwargs)))

    signature = inspect.signature(callback, eval_str=True)
    verbose = inspect.Parameter(VERBOSE, inspect.Parameter.KEYWORD_ONLY, default=False, annotation=VerboseOpt)
    guarded_callback.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), verbose]
    )
    # A copy: `wraps` shares the callback's own dict, which must not gain the option.
    guarded_callback.__annotations__ = {**callback.__annotations__, VERBOSE: VerboseOpt}
    return guarded_callback
