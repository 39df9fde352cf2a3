"""The diagnostics bundle: written into the run's artifacts dir on every failure (and on
success with `--diagnostics always`). `SUMMARY.md` at the top says in two lines what failed
and where to look; the rest is the evidence.
"""

from __future__ import annotations

import platform
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_toolkit import __version__
from ci_toolkit.config.loader import valid_project_name
from ci_toolkit.error_handler import Failure
from ci_toolkit.errors import ArtifactsUnwritable, CiToolkitError, ServiceNotReady
from ci_toolkit.pipeline import artifacts
from ci_toolkit.pipeline.context import RunContext, artifacts_root
from ci_toolkit.pipeline.state import RunState
from ci_toolkit.results.model import RunResult
from ci_toolkit.stack import compose

if TYPE_CHECKING:
    from ci_toolkit.stack.engine import Engine

# For each status: the files that most likely explain it.
LOOK_AT = {
    "tests_failed": "junit.xml and pytest.log",
    "coverage_below_threshold": "coverage.xml and htmlcov/index.html",
    "test_runner_error": "pytest.log",
    "migration_error": "the migration file named above, then logs/ for the database",
    "config_error": "the config file named above (`ci-toolkit config check` repeats the check)",
    "env_error": "env.json for what was set (`ci-toolkit env check` lists what is missing)",
    "infra_error": "logs/, inspect.json (health-check output), events.json and commands.json",
    "interrupted": "events.json and commands.json (what was running when the signal came)",
    "internal_error": "traceback.log",
}


def write_bundle(ctx: RunContext, state: RunState, result: RunResult, failure: BaseException | None) -> None:
    d = ctx.run_dir
    # The smallest, most useful file first: on a full disk it is the one that still fits.
    artifacts.write_text(d / "SUMMARY.md", summary(ctx, result, failure))
    artifacts.write_json(d / "versions.json", versions(state.engine))
    artifacts.write_json(d / "ports.json", {name: s.to_dict() for name, s in state.services.items()})
    artifacts.write_env_snapshot(d, state.env)
    if state.events is not None:
        artifacts.write_json(d / "events.json", state.events.events)
    artifacts.write_commands(d)


def early_failure(artifacts_dir: Path | None, project: str | None, failure: Failure) -> RunResult:
    """A run that failed before it could start (its config did not load): still a result,
    and still a bundle, in `--artifacts-dir` or ./ci-artifacts."""
    # An invalid --project ("../x") never becomes a path: such a run gets a generated name.
    name = project if project and valid_project_name(project) else f"failed-{secrets.token_hex(4)}"
    run_dir = (artifacts_root(artifacts_dir) / name).resolve()
    result = RunResult(
        failure.status, failure.exit_code, project, message=failure.message, artifacts_dir=str(run_dir)
    )
    where = LOOK_AT.get(result.status, "the message above")
    first = result.message.strip().splitlines()[0] if result.message.strip() else result.status
    try:
        artifacts.write_json(run_dir / "run.json", result.to_dict())
        artifacts.write_text(
            run_dir / "SUMMARY.md",
            f"**{result.status}** (exit code {result.exit_code}) before anything started: {first}\n"
            f"Look at: {where}.\n\n```\n{result.message.strip()}\n```\n",
        )
        artifacts.write_commands(run_dir)
    except ArtifactsUnwritable:
        pass  # the result still reaches stdout and the console; the disk has no room for it
    return result


def summary(ctx: RunContext, result: RunResult, failure: BaseException | None) -> str:
    first = result.message.strip().splitlines()[0] if result.message.strip() else result.status
    where = LOOK_AT.get(result.status, "run.json")
    if isinstance(failure, ServiceNotReady):
        where = f"logs/{failure.service}.log, then {where}"
    if result.status == "tests_failed" and result.tests.failures:
        first = f"{len(result.tests.failures)} test(s) failed, first: {result.tests.failures[0].id}"
    phase = next((p.name for p in result.phases if p.status in ("failed", "interrupted")), "-")
    lines = [
        f"**{result.status}** (exit code {result.exit_code}) in phase `{phase}`: {first}",
        f"Look at: {where}. Everything is in `{ctx.run_dir}`.",
        "",
        "| phase | status | seconds |",
        "| --- | --- | --- |",
        *(f"| {p.name} | {p.status} | {p.seconds:.2f} |" for p in result.phases),
        "",
        f"Project `{ctx.project}`, run id `{ctx.run_id}`, config `{ctx.config.source}`.",
    ]
    if result.message.strip():
        lines += ["", "```", result.message.strip(), "```"]
    return "\n".join(lines) + "\n"


def versions(engine: Engine | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "ci-toolkit": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        data["compose"] = compose.version()
    except CiToolkitError as exc:
        data["compose"] = f"unavailable: {exc.message}"
    if engine is not None:
        try:
            reported = engine.version()
            data["engine"] = {
                k: reported.get(k) for k in ("Version", "ApiVersion", "Os", "Arch", "KernelVersion")
            }
        except Exception as exc:  # the engine may be the thing that broke
            data["engine"] = f"unavailable: {exc}"
    return data
