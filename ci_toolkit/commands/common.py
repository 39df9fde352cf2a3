"""What the commands share: loading config, opening a run, attaching to a kept stack."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit import config as config_mod
from ci_toolkit.output.console import Reporter, make_reporter
from ci_toolkit.pipeline import checks
from ci_toolkit.pipeline import saved_stack as state
from ci_toolkit.pipeline import sequence as pipeline
from ci_toolkit.redact import REDACTOR
from ci_toolkit.signals import SignalGuard
from ci_toolkit.stack.engine import Engine


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


def new_run(opts: CommonOptions, guard: SignalGuard | None = None, **run_options: Any) -> pipeline.Run:
    config = opts.load_config()
    options = pipeline.RunOptions(artifacts_dir=opts.artifacts_dir, project=opts.project, **run_options)
    return pipeline.Run(config, options, opts.reporter(), guard or SignalGuard())


def attach(opts: CommonOptions) -> tuple[pipeline.Run, Path]:
    """A Run bound to the stack that `stack up` (or `--keep`) left running."""
    config = opts.load_config()
    state_file = state.path_for(config, opts.artifacts_dir)
    saved = state.load(config, state_file, opts.project)
    options = pipeline.RunOptions(artifacts_dir=opts.artifacts_dir, project=saved.stack.project)
    run = pipeline.Run(config, options, opts.reporter(), SignalGuard(), run_id=saved.run_id or "attached")
    run.stack = saved.stack
    run.env = {**checks.resolve_env(config).values, **saved.stack.env}
    run.engine = Engine.connect()
    return run, state_file


def emit_json(data: dict[str, Any]) -> None:
    sys.stdout.write(REDACTOR(json.dumps(data)) + "\n")
    sys.stdout.flush()
