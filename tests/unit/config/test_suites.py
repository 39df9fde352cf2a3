"""Suites: marker expressions checked at load, `--suite` selection, workers and per-test timeouts.

The last tests run a real pytest (no Docker) with PYTEST_DISABLE_PLUGIN_AUTOLOAD=1: the plugins
ci-toolkit needs must be loaded explicitly, or `-n` and `--timeout` are rejected.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ci_toolkit import config
from ci_toolkit.config import PytestConfig, suites
from ci_toolkit.errors import ExitCode, UsageError
from ci_toolkit.pipeline import pytest_run as testrun
from ci_toolkit.pipeline import selection
from ci_toolkit.pipeline.context import RunOptions
from tests.conftest import EXAMPLE_CONFIG, REPO, config_error, load_config_text

MARKERS = '[pytest]\nmarkers = ["slow: long", "destructive: writes", "db(name): a database"]\n'


load = load_config_text
load_error = config_error


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("slow", ["slow"]),
        ("not slow and not destructive", ["slow", "destructive"]),
        ("(slow or db) and not destructive", ["slow", "db", "destructive"]),
        ('db(name="orders", n=1) or slow', ["db", "slow"]),
        ("not not slow", ["slow"]),
    ],
)
def test_expression_markers(expression: str, names: list[str]) -> None:
    assert suites.expression_markers(expression) == names


@pytest.mark.parametrize(
    "expression", ["slow and", "and slow", "slow destructive", "(slow", "slow)", "slow;"]
)
def test_malformed_expressions_are_rejected(expression: str) -> None:
    with pytest.raises(suites.ExpressionError):
        suites.expression_markers(expression)


def test_string_and_table_forms(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        MARKERS + '[suites]\nsmoke = "not slow"\nfull = ""\n'
        'nightly = { markers = "slow or db", args = ["--maxfail=2"], fail_under = 10 }\n',
    )
    assert cfg.suites["smoke"].pytest_args() == ("-m", "not slow")
    assert cfg.suites["full"].pytest_args() == ()
    nightly = cfg.suites["nightly"]
    assert nightly.pytest_args() == ("-m", "slow or db", "--maxfail=2") and nightly.fail_under == 10


def test_undeclared_marker_is_an_error_with_a_near_miss(tmp_path: Path) -> None:
    message = load_error(tmp_path, MARKERS + '[suites]\nsmoke = "not slwo and not destructive"\n')
    assert "suites.smoke: marker 'slwo' is not declared in pytest.markers (did you mean 'slow'?)" in message
    assert "declared: db, destructive, slow" in message


def test_builtin_markers_need_no_declaration(tmp_path: Path) -> None:
    cfg = load(tmp_path, '[suites]\nquick = "not skip and not xfail"\n')
    assert cfg.suites["quick"].markers == "not skip and not xfail"


def test_every_suite_problem_is_reported_at_once(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        MARKERS + '[suites]\nbad = "slow and"\nworse = 3\n"no spaces" = "slow"\n'
        'tbl = { markers = "slow", argz = [] }\n',
    )
    assert "suites.bad: not a pytest marker expression" in message
    assert "suites.worse: expected a marker expression or a table" in message
    assert "suites.no spaces: a suite name is" in message
    assert "suites.tbl.argz: unknown key (did you mean 'args'?)" in message


def test_unknown_suite_names_it_with_a_near_miss(tmp_path: Path) -> None:
    cfg = load(tmp_path, EXAMPLE_CONFIG)
    with pytest.raises(UsageError) as info:
        suites.select(cfg.suites, "smok", cfg.source)
    assert info.value.exit_code == ExitCode.CONFIG
    assert "unknown suite 'smok' (did you mean 'smoke'?)" in str(info.value)
    assert "full, smoke" in str(info.value)


def test_bundled_config_declares_the_markers_its_suites_use() -> None:
    cfg = config.load(REPO)
    assert set(cfg.suites) >= {"smoke", "full"}
    declared = suites.marker_names(cfg.pytest.markers)
    assert set(suites.expression_markers(cfg.suites["smoke"].markers)) <= declared


def test_selection_puts_the_suite_first_and_the_users_args_last(tmp_path: Path) -> None:
    cfg = load(tmp_path, MARKERS + '[suites]\nsmoke = { markers = "not slow", fail_under = 5 }\n')
    options = RunOptions(pytest_args=("-m", "db"))
    new_cfg, new_opts, cell = selection.apply(cfg, options, selection.Choice(suite="smoke", workers="2"))
    assert cell is None
    assert new_opts.pytest_args == ("-m", "not slow", "-m", "db")  # pytest keeps the last -m: the user's
    assert new_opts.env["CI_TOOLKIT_SUITE"] == "smoke" and new_opts.workers == "2"
    assert new_cfg.pytest.fail_under == 5 and cfg.pytest.fail_under is None


@pytest.mark.parametrize("workers", ["0", "-1", "two", "1.5"])
def test_bad_workers_are_a_usage_error(workers: str) -> None:
    with pytest.raises(UsageError, match="--workers takes"):
        selection.check_workers(workers)


def test_workers_and_timeout_load_their_plugins_explicitly(tmp_path: Path) -> None:
    cmd = testrun.build_command(
        PytestConfig(paths=("t",)), tmp_path, ("-k", "x"), workers="auto", test_timeout=30
    )
    assert cmd[3:7] == ["-p", "xdist", "-p", "timeout"]  # entry-point names: work with autoload off
    assert "-n" in cmd and cmd[cmd.index("-n") + 1] == "auto" and "--timeout=30" in cmd


@pytest.mark.parametrize(
    ("args", "plugins"),
    [
        (["-n", "auto"], ["xdist"]),  # the failure seen in the wild: `-- -n auto` with autoload off
        (["-n4"], ["xdist"]),
        (["--dist=loadfile", "--timeout", "5"], ["xdist", "timeout"]),
        (["-p", "xdist", "-n", "2"], []),  # already loaded by the user
        (["-p", "no:timeout", "--timeout=5"], []),  # blocked by the user
        (["-k", "not slow", "--cov=app"], ["pytest_cov"]),
        (["-q"], []),
    ],
)
def test_plugin_args(args: list[str], plugins: list[str]) -> None:
    assert testrun.plugin_args(args)[1::2] == plugins


SAMPLE_TESTS = """\
import pytest

@pytest.mark.slow
def test_slow():
    pass

def test_quick():
    pass

@pytest.mark.destructive
def test_writes():
    pass
"""


def _run_pytest(
    tmp_path: Path, suite: suites.Suite, sample: str = SAMPLE_TESTS, **kwargs: object
) -> testrun.TestRun:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "test_sample.py").write_text(sample)
    cfg = PytestConfig(
        paths=("t",),
        args=("-q", "-p", "no:cacheprovider", "-W", "error::pytest.PytestUnknownMarkWarning"),
        markers=("slow: long", "destructive: writes"),
    )
    env = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    return testrun.run(
        cfg, env, tmp_path / "out", cwd=tmp_path, timeout=120, extra_args=suite.pytest_args(), **kwargs
    )  # type: ignore[arg-type]


def test_real_pytest_runs_only_the_suite_with_autoload_off_and_two_workers(tmp_path: Path) -> None:
    result = _run_pytest(
        tmp_path, suites.Suite("smoke", "not slow and not destructive"), workers="2", test_timeout=30
    )
    log = (tmp_path / "out" / "pytest.log").read_text()
    assert result.exit_code == 0, log
    assert result.counts.passed == 1 and result.counts.total == 1, log  # only test_quick
    assert "bringing up nodes" in log  # pytest-xdist ran, loaded by `-p xdist`
    assert "PytestUnknownMarkWarning" not in log  # the suite's markers were registered


def test_real_pytest_stops_a_hanging_test_with_the_per_test_timeout(tmp_path: Path) -> None:
    hang = "import time\n\ndef test_hangs():\n    time.sleep(60)\n\ndef test_fine():\n    pass\n"
    result = _run_pytest(tmp_path, suites.Suite("full"), test_timeout=1, sample=hang)
    assert result.exit_code == 1 and result.counts.passed == 1 and result.counts.failed == 1
    (failure,) = result.counts.failures
    assert failure.id.endswith("::test_hangs") and "Timeout" in failure.message
