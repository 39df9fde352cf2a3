"""What a run is before it starts: its options, its name, where its evidence goes.

`plan()` builds a frozen `RunContext` once — after the suite, matrix cell and other
command-line choices are applied — so nothing about a run's identity changes while it runs.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ci_toolkit.config import Config
from ci_toolkit.config.loader import PROJECT_NAME_RULE, project_slug, valid_project_name
from ci_toolkit.config.model import DEFAULT_ARTIFACTS_DIR
from ci_toolkit.errors import ConfigError, UsageError
from ci_toolkit.output.console import Reporter
from ci_toolkit.reuse import lease, zygote
from ci_toolkit.reuse.lease import Lease
from ci_toolkit.shard.spec import Shard
from ci_toolkit.signals import SignalGuard
from ci_toolkit.stack import prune


@dataclass(frozen=True)
class RunOptions:
    keep: bool = False
    pytest_args: tuple[str, ...] = ()
    artifacts_dir: Path | None = None
    project: str | None = None
    diagnostics: str = "on-failure"  # on-failure | always
    prune_ttl_hours: float = prune.DEFAULT_TTL_HOURS
    secrets_from_env: bool = False  # take [secrets] from the environment instead of SSM
    secrets_file: Path | None = None  # ... or from a .env-style file
    # For compose interpolation and the tests, over os.environ: a matrix cell, a soak iteration.
    env: dict[str, str] = field(default_factory=dict)
    suite: str | None = None  # the suite's -m and args are already in pytest_args (selection.apply)
    workers: str | None = None  # pytest-xdist -n: a number, auto or logical
    test_timeout: float | None = None  # pytest-timeout, per test
    shard: Shard | None = None  # run only this shard of the collection (--shard K/N)
    # Fast re-runs, integration-run only (None there: as the config says; tier 3 and soak: never).
    reuse: bool | None = False  # keep the stack as a lease and reuse it
    snapshot: bool | None = False  # start from / save a snapshot of the migrated stack


@dataclass(frozen=True)
class RunContext:
    """One run's fixed facts, shared read-only by its steps."""

    config: Config
    options: RunOptions
    reporter: Reporter
    guard: SignalGuard
    run_id: str
    project: str
    run_dir: Path
    lease: Lease | None = None  # held from planning until the run ends (`release_lease`)

    def release_lease(self) -> None:
        if self.lease is not None:
            self.lease.release()

    def tests_env(self, env: Mapping[str, str], secrets: Mapping[str, str]) -> dict[str, str]:
        """What the tests see over this process's environment: the run's env and exports, the
        options' env, the secrets, and where the run is."""
        extra = {"CI_TOOLKIT_IMPORTED": str(zygote.modules_file(self.lease.name))} if self.lease else {}
        return {
            **env,
            **self.options.env,
            **secrets,
            "CI_TOOLKIT_PROJECT": self.project,
            "CI_TOOLKIT_RUN_DIR": str(self.run_dir),
            **extra,
        }


def plan(
    config: Config,
    options: RunOptions,
    reporter: Reporter,
    guard: SignalGuard | None = None,
    *,
    run_id: str | None = None,
) -> RunContext:
    run_id = run_id or secrets.token_hex(4)
    # The name goes to `docker compose -p` and becomes a directory under the artifacts root:
    # compose's own rule keeps "../x" and "/" out of both.
    if options.project and not valid_project_name(options.project):
        raise UsageError(
            f"--project {options.project!r} is not a valid compose project name: use {PROJECT_NAME_RULE}",
            hint="e.g. --project my-app-ci; leave --project out for a generated name",
        )
    options = replace(
        options,
        reuse=reuse_wanted(config, options.reuse),
        snapshot=config.snapshot if options.snapshot is None else options.snapshot,
    )
    held = _take_lease(config, options, reporter) if options.reuse else None
    project = held.name if held else options.project or make_project_name(config, run_id)
    if not valid_project_name(project):  # a Config made without the loader's check
        raise ConfigError(
            f"project_prefix {config.project_prefix!r} makes the invalid compose project name {project!r}: "
            f"use {PROJECT_NAME_RULE}"
        )
    run_dir = (artifacts_root(options.artifacts_dir, config) / project).resolve()
    return RunContext(config, options, reporter, guard or SignalGuard(), run_id, project, run_dir, held)


def reuse_wanted(config: Config, asked: bool | None) -> bool:
    """--reuse / --no-reuse, else the config: "always", or "local" (at a terminal, never with CI=true)."""
    if asked is not None:
        return asked
    if config.reuse == "always":
        return True
    local = os.environ.get("CI", "").lower() not in ("true", "1") and sys.stdout.isatty()
    return config.reuse == "local" and local


def _take_lease(config: Config, options: RunOptions, reporter: Reporter) -> Lease | None:
    if options.project:
        raise UsageError(
            "--reuse and --project exclude each other: a lease has its own project name",
            hint="leave --project out (see `ci-toolkit stack leases`), or pass --no-reuse",
        )
    name = lease.name_for(config)
    held = lease.acquire(name)
    if held is None:
        who = lease.holder(name)
        reporter.warn(
            f"lease {name} is in use by another run (pid {who}); this run uses a fresh stack of its own"
        )
    return held


def artifacts_root(override: Path | None, config: Config | None = None) -> Path:
    """The one answer to "where do results go": --artifacts-dir, else the config's, else the default."""
    if override is not None:
        return override
    return config.artifacts_dir if config is not None else Path(DEFAULT_ARTIFACTS_DIR)


def make_project_name(config: Config, run_id: str) -> str:
    return f"{config.project_prefix}-{project_slug(config.root)}-{run_id}"


def process_env(overlay: Mapping[str, str] = {}) -> dict[str, str]:
    """The one merge of the run's own variables over this process's environment (what compose,
    templates and the tests see)."""
    return {**os.environ, **overlay}
