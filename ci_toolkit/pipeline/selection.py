"""What a run selects on top of the config: a suite, a matrix cell, workers, a per-test timeout.

`apply` turns the command-line choices into a (Config, RunOptions) pair before a run is planned:
the suite becomes `-m EXPR` plus its extra args (and its own coverage threshold), a matrix
cell becomes variables for compose interpolation and the tests, `--workers` and
`--test-timeout` become pytest-xdist and pytest-timeout options (loaded explicitly with `-p`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from ci_toolkit.config import Config, matrix, suites
from ci_toolkit.errors import UsageError
from ci_toolkit.pipeline import artifacts
from ci_toolkit.pipeline import workers as worker_plan
from ci_toolkit.pipeline.context import RunContext, RunOptions
from ci_toolkit.shard import spec

WORKER_KEYWORDS = ("auto", "logical")
FILE_NAME = "selection.json"  # in the run's artifacts dir; `report merge` names cells from it


@dataclass(frozen=True)
class Choice:
    """The command-line options: `--suite`, `--matrix-entry`, `--workers`, `--test-timeout`, `--shard`,
    `--service`."""

    suite: str | None = None
    matrix_entry: str | None = None
    workers: str | None = None
    test_timeout: float | None = None
    shard: str | None = None
    services: tuple[str, ...] = ()  # --service: start only these (and what they depend on)


def record(ctx: RunContext, choice: Choice, cell: matrix.Cell | None) -> None:
    """Write what was chosen into the run's artifacts dir (`report merge` names cells from it)."""
    if choice != Choice():
        data = {**asdict(choice), "cell": None if cell is None else cell.to_dict(), "project": ctx.project}
        artifacts.write_json(ctx.run_dir / FILE_NAME, data)


def apply(
    config: Config, options: RunOptions, choice: Choice
) -> tuple[Config, RunOptions, matrix.Cell | None]:
    suite, matrix_entry = choice.suite, choice.matrix_entry
    env = dict(options.env)
    cell = None
    entry = matrix.parse_entry(matrix_entry) if matrix_entry else {}
    # A `shard plan` cell of a config without [matrix] holds only the keys ci-toolkit added.
    if entry and (config.matrix is not None or any(k not in matrix.DERIVED for k in entry)):
        cell = matrix.resolve(config.matrix, entry, config.source)
        if cell.suite and suite and cell.suite != suite:
            raise UsageError(f"--suite {suite} contradicts the matrix entry's suite {cell.suite!r}")
        suite = suite or cell.suite
        env.update(cell.env)
        env["CI_TOOLKIT_MATRIX_CELL"] = cell.name
    shard = spec.parse(choice.shard)  # our plugin splits it in any interpreter (pipeline.runner)
    if choice.services:  # the command line's choice replaces the config's `start`
        config = replace(config, start=tuple(dict.fromkeys(choice.services)))
    pytest_args = options.pytest_args
    if suite:
        chosen = suites.select(config.suites, suite, config.source)
        pytest_args = (*chosen.pytest_args(), *pytest_args)  # the user's own args come last and win
        env["CI_TOOLKIT_SUITE"] = chosen.name
        if chosen.fail_under is not None:
            config = replace(config, pytest=replace(config.pytest, fail_under=chosen.fail_under))
    workers = check_workers(choice.workers)
    worker_plan.plan(config, workers)  # what cannot give each worker its data: refused before anything starts
    return (
        config,
        replace(
            options,
            pytest_args=pytest_args,
            env=env,
            suite=suite,
            workers=workers,
            test_timeout=check_timeout(choice.test_timeout),
            shard=shard,
        ),
        cell,
    )


def check_workers(workers: str | None) -> str | None:
    """`--workers N|auto|logical` as the number for pytest-xdist's `-n`: ci-toolkit names each
    worker's data (gw0 … gw{N-1}) before pytest starts, so `auto` is counted here, not by xdist."""
    if workers is None:
        return None
    value = workers.strip().lower()
    if value in WORKER_KEYWORDS:
        return str(worker_plan.available_cpus())
    if value.isdigit() and int(value) >= 1:
        return str(int(value))
    raise UsageError(f"--workers takes a number of processes (1 or more), auto or logical; got {workers!r}")


def check_timeout(seconds: float | None) -> float | None:
    if seconds is not None and seconds <= 0:
        raise UsageError(f"--test-timeout must be greater than 0 seconds, got {seconds:g}")
    return seconds
