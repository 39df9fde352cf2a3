"""What the commands share: the common options, planning a run, attaching to a kept stack."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ci_toolkit import config as config_mod
from ci_toolkit.output.console import Reporter, make_reporter
from ci_toolkit.pipeline import checks, context, saved_stack, selection, sequence
from ci_toolkit.pipeline.context import RunContext, RunOptions
from ci_toolkit.redact import REDACTOR
from ci_toolkit.signals import SignalGuard


@dataclass(frozen=True)
class CommonOptions:
    config_path: Path | None = None
    artifacts_dir: Path | None = None
    project: str | None = None
    json_mode: bool = False
    quiet: bool = False

    def reporter(self) -> Reporter:
        return make_reporter(json_mode=self.json_mode, quiet=self.quiet)

    def load_config(self) -> config_mod.Config:
        return config_mod.load(Path.cwd(), self.config_path)


def plan_run(
    opts: CommonOptions,
    *,
    guard: SignalGuard | None = None,
    reporter: Reporter | None = None,
    choice: selection.Choice | None = None,
    **run_options: Any,
) -> RunContext:
    """Everything a run needs, settled before it starts: config, choices (suite, matrix cell,
    workers), project name and artifacts dir."""
    config = opts.load_config()
    options = RunOptions(artifacts_dir=opts.artifacts_dir, project=opts.project, **run_options)
    choice = choice or selection.Choice()
    config, options, cell = selection.apply(config, options, choice)
    ctx = context.plan(config, options, reporter or opts.reporter(), guard)
    selection.record(ctx, choice, cell)
    return ctx


def attach(
    opts: CommonOptions, *, choice: selection.Choice | None = None, **run_options: Any
) -> sequence.Sequence:
    """A sequence bound to the stack that `stack up` (or `--keep`) left running."""
    config = opts.load_config()
    choice = choice or selection.Choice()
    # The options are checked before the stack is looked for: a typo is the first thing said.
    options = RunOptions(artifacts_dir=opts.artifacts_dir, **run_options)
    config, options, cell = selection.apply(config, options, choice)
    saved = saved_stack.load(config, saved_stack.path_for(config, opts.artifacts_dir), opts.project)
    options = replace(options, project=saved.stack.project)
    ctx = context.plan(config, options, opts.reporter(), run_id=saved.run_id or "attached")
    selection.record(ctx, choice, cell)
    return sequence.attach(ctx, saved, {**checks.resolve_env(config).values, **options.env})


def emit_json(data: dict[str, Any]) -> None:
    # `##[` is a legacy workflow command the Actions runner finds anywhere in a line; escaped,
    # it decodes to the same JSON.
    sys.stdout.write(REDACTOR(json.dumps(data)).replace("##[", "##\\u005b") + "\n")
    sys.stdout.flush()
