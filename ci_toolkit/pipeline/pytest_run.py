"""Run pytest as a subprocess against the live stack and read back what it wrote.

pytest writes JUnit XML and coverage XML+HTML into the run's artifacts dir; its output is
streamed to the console and kept in `pytest.log`. Plugins are loaded explicitly with `-p`
so the run works with PYTEST_DISABLE_PLUGIN_AUTOLOAD=1.
"""

from __future__ import annotations

import json
import shlex
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_toolkit import proc
from ci_toolkit.config import PytestConfig
from ci_toolkit.errors import CiToolkitError, TestRunnerError
from ci_toolkit.pipeline import runner
from ci_toolkit.pipeline.context import process_env
from ci_toolkit.pipeline.runner import plugin_args, runner_args
from ci_toolkit.redact import REDACTOR
from ci_toolkit.results import progress
from ci_toolkit.results.junit import read_coverage, read_junit
from ci_toolkit.results.model import TestCounts

if TYPE_CHECKING:
    from ci_toolkit.reuse.zygote import ForkedPytest

GRACE_SECONDS = 10.0  # after forwarding a signal, how long pytest gets to finish its reports
PYTEST_EXIT = {
    2: "was interrupted",
    3: "hit an internal error",
    4: "was called wrongly (usage error)",
    5: "collected no tests",
}


PROGRESS_FILE = "progress.tsv"  # the plugin's per-test record (results/progress.py)
# coverage.py's data (COVERAGE_FILE), which `report merge` combines over shards. Not `.coverage`:
# actions/upload-artifact leaves hidden files out.
COVERAGE_DATA = "coverage.data"


class PytestKilled(TestRunnerError):
    """pytest died of a signal nobody in ci-toolkit sent; `counts` are the tests that finished."""

    def __init__(self, signum: int, counts: TestCounts, log: Path) -> None:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        why = (
            "; on Linux this is often the out-of-memory killer — check `dmesg` or the runner's memory"
            if signum == signal.SIGKILL
            else ""
        )
        super().__init__(
            f"pytest was killed by {name} (signal {signum}){why}; {counts.total} tests had finished "
            f"({counts.describe()})",
            hint=f"pytest's output up to the kill is in {log}",
        )
        self.counts = counts


@dataclass(frozen=True)
class TestRun:
    __test__ = False

    exit_code: int
    counts: TestCounts
    coverage_percent: float | None
    junit_xml: Path
    command: tuple[str, ...]
    shard: Mapping[str, Any] | None = None  # what pytest_shard kept, for a --shard run
    runner: Mapping[str, Any] | None = None  # which interpreter ran the tests (runner.Runner.record)


def build_command(
    cfg: PytestConfig,
    out_dir: Path,
    extra_args: Sequence[str] = (),
    *,
    workers: str | None = None,
    test_timeout: float | None = None,
    root: Path | None = None,
    coverage: bool = True,
) -> list[str]:
    """`root`: the config's directory, where the runner is detected (None: nothing is);
    `coverage`: False when pytest-cov is not importable where the tests run."""
    target = runner.resolve(cfg, root)
    selected = [*cfg.args, *runner_args(workers, test_timeout), *extra_args]
    cmd = [
        *target.prefix,
        "-m",
        "pytest",
        *plugin_args(selected),
        *cfg.paths,
        *selected,
        f"--junitxml={out_dir / 'junit.xml'}",
        "-o",
        "junit_family=xunit1",
    ]  # xunit1 keeps file and line
    for plugin in target.plugins:  # another interpreter gets them by file (runner.install_plugins)
        cmd += ["-p", plugin]
    if cfg.coverage_source and coverage:
        cmd += ["-p", "pytest_cov"]
        cmd += [f"--cov={src}" for src in cfg.coverage_source]
        cmd += [
            f"--cov-report=xml:{out_dir / 'coverage.xml'}",
            f"--cov-report=html:{out_dir / 'htmlcov'}",
            "--cov-report=term",
        ]
    return cmd


@dataclass(frozen=True)
class Prepared:
    command: list[str]
    env: dict[str, str]  # over this process's environment
    runner: runner.Runner
    coverage: bool  # coverage_source is set and pytest-cov is where the tests run
    notes: tuple[str, ...] = ()  # said on the test step's first lines


WATCH_INTERVAL = 0.25  # how often the stack is checked while the tests run


def prepare(
    cfg: PytestConfig,
    env: Mapping[str, str],
    out_dir: Path,
    *,
    root: Path | None = None,
    extra_args: Sequence[str] = (),
    workers: str | None = None,
    test_timeout: float | None = None,
) -> Prepared:
    """pytest's command line and the environment it gets: the same for a pytest started now and
    one forked ahead of time (`reuse.zygote`). Another interpreter than ours gets our plugins by
    file and is asked once whether pytest-cov is there."""
    target = runner.resolve(cfg, root)
    added_env = {
        **env,
        "COVERAGE_FILE": str(out_dir / COVERAGE_DATA),
        "CI_TOOLKIT_MARKERS": "\n".join(cfg.markers),
        "CI_TOOLKIT_PROGRESS": str(out_dir / PROGRESS_FILE),
    }
    notes = [target.line]
    if not target.own:
        added_env["PYTHONPATH"] = runner.python_path(runner.install_plugins(out_dir), env)
    coverage = runner.has_coverage(target, root or Path.cwd(), added_env)
    if cfg.coverage_source and not coverage:
        notes.append(runner.coverage_note(target))
    cmd = build_command(
        cfg, out_dir, extra_args, workers=workers, test_timeout=test_timeout, root=root, coverage=coverage
    )
    return Prepared(cmd, added_env, target, bool(cfg.coverage_source) and coverage, tuple(notes))


def run(
    cfg: PytestConfig,
    env: Mapping[str, str],
    out_dir: Path,
    *,
    cwd: Path,
    timeout: float,
    extra_args: Sequence[str] = (),
    workers: str | None = None,
    test_timeout: float | None = None,
    on_line: Callable[[str], None] = lambda line: None,
    watch: Callable[[], None] | None = None,
    forked: ForkedPytest | None = None,
) -> TestRun:
    """Run pytest; `watch` is called periodically and may raise to stop the tests early
    (a service container died under them). `forked`: a pytest forked ahead of time with this
    same command line, waiting at its gate; it is let go with `env`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("junit.xml", "coverage.xml", PROGRESS_FILE):
        (out_dir / stale).unlink(missing_ok=True)
    prepared = prepare(
        cfg, env, out_dir, root=cwd, extra_args=extra_args, workers=workers, test_timeout=test_timeout
    )
    cmd, added_env = prepared.command, prepared.env
    for note in prepared.notes:  # which interpreter, first: a wrong one explains every import error
        on_line(note)
    if forked is not None:
        try:
            forked.release(process_env(added_env))  # its whole environment, as a new process would get
        except TestRunnerError as exc:  # it died at its gate: no test ran; start one the ordinary way
            on_line(f"({exc}; starting pytest anew)")
            forked.cancel()
            forked = None
    seen = progress.OutputCounter()
    on_line(f"$ {shlex.join(cmd)}")
    try:
        with (out_dir / "pytest.log").open("w") as log:

            def take(line: str) -> None:
                safe = REDACTOR(line)  # a test may print a secret it was given
                log.write(safe + "\n")
                seen.feed(safe)
                on_line(safe)

            # Own session: a Ctrl-C on the terminal reaches us only; proc forwards it once, on purpose.
            result = proc.stream(
                cmd,
                on_line=take,
                env=added_env,
                cwd=cwd,
                merge_stderr=True,
                timeout=timeout,
                watch=None if watch is None else _stack_check(watch),
                interval=WATCH_INTERVAL,
                grace=GRACE_SECONDS,
                running=forked,
            )
    finally:
        redact_outputs(out_dir)
    exit_code = result.returncode
    if result.stopped == proc.TIMED_OUT and exit_code != 0:
        raise TestRunnerError(
            f"pytest did not finish within {timeout:g}s and was stopped",
            hint="raise timeouts.test, or look for a hanging test in pytest.log",
        )
    if exit_code < 0 and result.stopped is None:  # killed from outside: the OOM killer, a watchdog
        finished = progress.read_record(out_dir / PROGRESS_FILE) or seen.counts()
        raise PytestKilled(-exit_code, finished, out_dir / "pytest.log")
    counts = read_junit(out_dir / "junit.xml", cwd, record=out_dir / PROGRESS_FILE)
    shard = _shard_report(added_env, out_dir)
    if exit_code == 5 and shard is not None and shard.get("selected") == 0 and (shard.get("tests") or 0) > 0:
        # pytest says "no tests ran" (exit 5); a shard with nothing to run of a collection that
        # has tests has passed. An empty collection stays an error, as it is unsharded.
        on_line(f"0 of {shard.get('tests')} tests in shard {shard.get('shard')}: nothing to run here")
        exit_code = 0
    if exit_code not in (0, 1):
        what = PYTEST_EXIT.get(exit_code, f"exited with code {exit_code}")
        hint = (
            "check pytest.paths and the marker expression"
            if exit_code == 5
            else f"see {out_dir / 'pytest.log'}"
        )
        raise TestRunnerError(f"pytest {what} (exit code {exit_code})", hint=hint)
    coverage = read_coverage(out_dir / "coverage.xml") if prepared.coverage else None
    return TestRun(
        exit_code, counts, coverage, out_dir / "junit.xml", tuple(cmd), shard, prepared.runner.record
    )


def _shard_report(env: Mapping[str, str], out_dir: Path) -> dict[str, Any] | None:
    """`pytest_shard`'s report of what this shard kept (CI_TOOLKIT_SHARD_REPORT), if sharded."""
    path = env.get("CI_TOOLKIT_SHARD_REPORT")
    if not path or not env.get("CI_TOOLKIT_SHARD"):
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def redact_outputs(out_dir: Path) -> None:
    """Mask registered secret values in every text file pytest wrote (junit.xml keeps a failing
    test's captured output; coverage and HTML reports too). Binary files are left alone."""
    for path in out_dir.rglob("*"):
        try:
            if not path.is_file():
                continue
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        masked = REDACTOR(text)
        if masked != text:
            path.write_text(masked, encoding="utf-8")


def _stack_check(watch: Callable[[], None]) -> Callable[[], None]:
    """Only a `CiToolkitError` (a service died under the tests) stops pytest: any other error
    is a hiccup of the check itself (the engine API), and the next check tries again."""

    def check() -> None:
        try:
            watch()
        except CiToolkitError:
            raise
        except Exception:
            pass

    return check
