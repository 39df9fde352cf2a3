"""ci_toolkit.output.github: workflow-command escaping, log groups, annotations, the job summary and
step outputs. Real files in tmp_path stand in for the runner's GITHUB_* files."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from ci_toolkit import config as config_mod
from ci_toolkit.output import github as gh
from ci_toolkit.output import github_summary as ghs
from ci_toolkit.output.console import Reporter, make_reporter
from ci_toolkit.output.github_log import GitHubReporter
from ci_toolkit.redact import REDACTOR
from ci_toolkit.results.model import FailedTest, PhaseResult, RunResult, ServiceResult, TestCounts
from tests.conftest import run_cli

SECRET = "gh-unit-s3cret-value-7f3a"  # registered once; unlikely to appear anywhere else
REDACTOR.add(SECRET)

PHASES = tuple(
    PhaseResult(name, "ok", seconds)
    for name, seconds in [
        ("validate", 0.2),
        ("up", 1.5),
        ("ready", 2.0),
        ("migrate", 0.1),
        ("test", 1.7),
        ("collect", 0.3),
        ("down", 0.6),
    ]
)


def failed_result(*failures: FailedTest, passed: int = 5) -> RunResult:
    return RunResult(
        "tests_failed",
        1,
        "citk-proj-1234abcd",
        PHASES,
        {"postgres": ServiceResult(1.25, "127.0.0.1", {5432: 49153})},
        TestCounts(passed, len(failures), 0, 1, failures),
        91.25,
        "/work/ci-artifacts/citk-proj-1234abcd",
        f"{len(failures)} failed, 0 errors",
    )


FAILURE = FailedTest(
    "tests/test_orders.py::test_total",
    "tests/test_orders.py",
    42,
    "AssertionError: total | 3 != 4\nassert 3 == 4",
)


def invocation(tmp_path: Path, **kw: object) -> ghs.Invocation:
    defaults: dict[str, object] = {"cwd": tmp_path, "root": tmp_path}
    return ghs.Invocation(**{**defaults, **kw})  # type: ignore[arg-type]


# -- detection and escaping -------------------------------------------------------------------


def test_enabled_by_github_actions_env_and_forced_by_the_flag() -> None:
    assert gh.enabled(None, {"GITHUB_ACTIONS": "true"})
    assert not gh.enabled(None, {"GITHUB_ACTIONS": "false"})
    assert not gh.enabled(None, {})
    assert gh.enabled(True, {})
    assert not gh.enabled(False, {"GITHUB_ACTIONS": "true"})


def test_escape_data_and_properties() -> None:
    assert gh.escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert gh.escape_data("already %0A escaped") == "already %250A escaped"  # % first: no double meaning
    assert gh.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    assert gh.escape_data("a:b,c") == "a:b,c"  # data keeps : and ,


def test_command_escapes_properties_and_message_and_drops_empty_ones() -> None:
    line = gh.command("error", "line one\nline two: 100%", file="dir/a,b.py", line=3, col=None, title="")
    assert line == "::error file=dir/a%2Cb.py,line=3::line one%0Aline two: 100%25"
    assert gh.command("endgroup") == "::endgroup::"


def test_command_redacts_before_escaping() -> None:
    line = gh.command("error", f"token {SECRET}\nleaked", title=f"t {SECRET}")
    assert SECRET not in line
    assert line == "::error title=t ***::token ***%0Aleaked"


# -- the reporter ----------------------------------------------------------------------------


def test_reporter_groups_each_phase_and_prints_its_result_after_the_group() -> None:
    out = io.StringIO()
    reporter = GitHubReporter(out)
    reporter.phase_start("ready")
    reporter.service_ready("postgres", 1.5)
    reporter.phase_end(PhaseResult("ready", "ok", 1.5))
    assert out.getvalue().splitlines() == [
        "::group::ready",
        "==> ready",
        "    postgres: ready in 1.50s",
        "::endgroup::",
        "<== ready ok in 1.50s",
    ]


def test_reporter_fences_test_output_so_tests_cannot_issue_workflow_commands() -> None:
    out = io.StringIO()
    reporter = GitHubReporter(out)
    reporter.phase_start("test")
    reporter.test_output("::add-mask::not-from-us")
    reporter.test_output("::error::fake annotation")
    reporter.phase_end(PhaseResult("test", "ok", 0.5))
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["::group::test", "==> test"]
    assert lines[2].startswith("::stop-commands::")
    token = lines[2].removeprefix("::stop-commands::")
    assert len(token) == 32
    assert lines[3:6] == ["::add-mask::not-from-us", "::error::fake annotation", f"::{token}::"]
    assert lines[6:] == ["::endgroup::", "<== test ok in 0.50s"]


def test_quiet_reporter_opens_no_groups() -> None:
    out = io.StringIO()
    reporter = GitHubReporter(out, quiet=True)
    reporter.phase_start("up")
    reporter.test_output("noise")
    reporter.phase_end(PhaseResult("up", "ok", 1.0))
    assert out.getvalue() == ""


def test_make_reporter_picks_the_github_reporter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert isinstance(make_reporter(json_mode=False, quiet=False), GitHubReporter)
    assert not isinstance(make_reporter(json_mode=False, quiet=False, github=False), GitHubReporter)
    monkeypatch.delenv("GITHUB_ACTIONS")
    assert type(make_reporter(json_mode=False, quiet=False, force_plain=True)) is Reporter
    assert isinstance(make_reporter(json_mode=True, quiet=False, github=True), GitHubReporter)


# -- annotations -----------------------------------------------------------------------------


def test_failed_tests_become_error_annotations_on_repository_paths(tmp_path: Path) -> None:
    project = tmp_path / "services" / "orders"
    inv = invocation(tmp_path, cwd=project, root=project)
    lines = gh.annotation_lines(failed_result(FAILURE), inv, workspace=tmp_path)
    assert lines == [
        "::error file=services/orders/tests/test_orders.py,line=42,"
        "title=FAILED tests/test_orders.py%3A%3Atest_total::"
        "AssertionError: total | 3 != 4%0Aassert 3 == 4"
    ]


def test_annotations_stay_within_githubs_limit_per_step(tmp_path: Path) -> None:
    many = [FailedTest(f"t.py::test_{i}", "t.py", i, "boom") for i in range(25)]
    lines = gh.annotation_lines(failed_result(*many), invocation(tmp_path), tmp_path)
    assert len(lines) == gh.MAX_ANNOTATIONS
    assert lines[-1] == "::error title=ci-toolkit::16 more failed tests: see the job summary"


def test_config_errors_point_at_the_file_and_the_key_line(tmp_path: Path) -> None:
    source = tmp_path / "pyproject.toml"
    source.write_text(
        '[project]\nname = "x"\n\n[tool.ci-toolkit]\ncompose_files = ["c.yml"]\n\n'
        '[tool.ci-toolkit.services.db]\nkind = "nope"\nport = "x"\n'
    )
    message = (
        "invalid configuration:\n"
        f"  - {source}: tool.ci-toolkit.services.db.kind: expected one of postgres, redis, got 'nope'\n"
        f"  - {source}: tool.ci-toolkit.services.db.port: expected an integer, got a string ('x')\n"
        "  hint: fix the keys above"
    )
    result = RunResult("config_error", 2, None, message=message)
    lines = gh.annotation_lines(result, invocation(tmp_path), tmp_path)
    assert lines == [
        "::error file=pyproject.toml,line=8,title=ci-toolkit%3A config_error::"
        f"{source}: tool.ci-toolkit.services.db.kind: expected one of postgres, redis, got 'nope'",
        "::error file=pyproject.toml,line=9,title=ci-toolkit%3A config_error::"
        f"{source}: tool.ci-toolkit.services.db.port: expected an integer, got a string ('x')",
    ]


def test_a_migration_error_points_at_the_sql_file_and_line(tmp_path: Path) -> None:
    sql = tmp_path / "migrations" / "003_broken.sql"
    message = (
        f'migration 003_broken.sql failed ({sql}, line 2): syntax error at or near "SELEC"\n'
        "    2 | SELEC 1; [SQLSTATE 42601]\n  hint: fix the file; nothing from it was applied"
    )
    result = RunResult("migration_error", 5, "p", PHASES[:4], message=message)
    (line,) = gh.annotation_lines(result, invocation(tmp_path), tmp_path)
    assert line.startswith(
        "::error file=migrations/003_broken.sql,line=2,title=ci-toolkit%3A migration_error::"
    )
    assert "%0A    2 | SELEC 1;" in line  # the whole message, escaped


def test_coverage_below_threshold_points_at_fail_under(tmp_path: Path) -> None:
    source = tmp_path / "ci-toolkit.toml"
    source.write_text('compose_files = ["c.yml"]\n\n[pytest]\npaths = ["tests"]\nfail_under = 95\n')
    result = RunResult("coverage_below_threshold", 1, "p", PHASES, coverage_percent=80.0, message="too low")
    inv = invocation(tmp_path, config_source=source)
    assert gh.annotation_lines(result, inv, tmp_path) == [
        "::error file=ci-toolkit.toml,line=5,title=ci-toolkit%3A coverage_below_threshold::too low"
    ]


def test_other_errors_get_one_annotation_without_a_file(tmp_path: Path) -> None:
    result = RunResult("infra_error", 4, "p", PHASES[:3], message="postgres did not become ready\n  hint: x")
    assert gh.annotation_lines(result, invocation(tmp_path), tmp_path) == [
        "::error title=ci-toolkit%3A infra_error::postgres did not become ready%0A  hint: x"
    ]
    passed = RunResult("passed", 0, "p", PHASES)
    assert gh.annotation_lines(passed, invocation(tmp_path), tmp_path) == []


def test_toml_key_line_finds_keys_tables_and_inline_tables(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('a = 1\n[env]\ndefaults = { X = "1" }\n\n[services."db"]\nkind = "x"\n')
    assert gh.toml_key_line(path, "a") == 1
    assert gh.toml_key_line(path, "env.defaults.X") == 3
    assert gh.toml_key_line(path, "services.db.kind") == 6
    assert gh.toml_key_line(path, "services.db.port") == 5  # missing key: its table
    assert gh.toml_key_line(path, "nothing.here") is None
    assert gh.toml_key_line(tmp_path / "missing.toml", "a") is None


# -- the command that reproduces the run --------------------------------------------------------


def test_reproduce_command_repeats_directory_config_env_and_pytest_args(tmp_path: Path) -> None:
    inv = invocation(
        tmp_path,
        cwd=tmp_path / "svc",
        config_path=Path("ci/it.toml"),
        pytest_args=("-k", "not slow", "-x"),
        options=ghs.cli_options(
            suite="smoke", matrix_entry="pg=17 redis=7", workers=None, secrets_from_env=True
        ),
        env=(("EXAMPLE_FAIL", "1"), ("REGION", "eu west")),
        secret_env=("API_TOKEN",),
    )
    assert ghs.reproduce_command(inv, tmp_path) == (
        "cd svc && EXAMPLE_FAIL=1 REGION='eu west' ci-toolkit integration-run --config ci/it.toml "
        "--suite smoke --matrix-entry 'pg=17 redis=7' --secrets-from-env -- -k 'not slow' -x"
    )
    assert ghs.reproduce_command(invocation(tmp_path), tmp_path) == "ci-toolkit integration-run"


def test_cli_options_repeat_only_what_was_given() -> None:
    assert ghs.cli_options(
        suite=None, workers="auto", test_timeout=30.0, keep=False, secrets_file=Path("s.env")
    ) == (
        "--workers",
        "auto",
        "--test-timeout",
        "30.0",
        "--secrets-file",
        "s.env",
    )


def test_invocation_takes_env_the_run_depends_on_and_never_secret_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ci-toolkit.toml").write_text(
        'compose_files = ["c.yml"]\n[env]\nrequired = ["REGION", "DEPLOY_TOKEN", "SHARED", "DB_URL"]\n'
        'defaults = { STREAM = "ORDERS", MODE = "fast" }\n'
    )
    config = config_mod.load(tmp_path)
    monkeypatch.chdir(tmp_path)
    environ = {
        ghs.REPRODUCE_ENV: "EXAMPLE_FAIL, UNSET_ONE",
        "EXAMPLE_FAIL": "1",
        "REGION": "eu-west-1",
        "DEPLOY_TOKEN": "abc123",
        "SHARED": f"x{SECRET}",
        "DB_URL": "postgresql://app:hunter2@db:5432/app",
        "STREAM": "OTHER",
        "MODE": "fast",
    }
    inv = ghs.Invocation.current(None, ("-x",), config, environ)
    assert inv.env == (("EXAMPLE_FAIL", "1"), ("REGION", "eu-west-1"), ("STREAM", "OTHER"))
    assert inv.secret_env == ("DEPLOY_TOKEN", "SHARED", "DB_URL")
    assert inv.root == tmp_path.resolve() and inv.config_source == tmp_path.resolve() / "ci-toolkit.toml"
    command = ghs.reproduce_command(inv, tmp_path)
    assert command == "EXAMPLE_FAIL=1 REGION=eu-west-1 STREAM=OTHER ci-toolkit integration-run -- -x"


# -- summary and outputs -------------------------------------------------------------------------


def test_summary_has_status_phases_services_tests_failures_and_the_reproduce_command(tmp_path: Path) -> None:
    inv = invocation(tmp_path, env=(("EXAMPLE_FAIL", "1"),))
    text = ghs.summary_markdown(failed_result(FAILURE), inv, tmp_path, sha="0123456789abcdef0123")
    assert text.startswith("## ❌ ci-toolkit integration-run: tests_failed (exit code 1)\n")
    assert "| phase | status | seconds |" in text
    for phase in PHASES:
        assert f"| {phase.name} | ok | {phase.seconds:.2f} |" in text
    assert "| **total** | | **6.40** |" in text
    assert "Stack `citk-proj-1234abcd`: torn down" in text
    assert "| postgres | 1.25 s | 5432 → 127.0.0.1:49153 |" in text
    assert "**Tests:** 5 passed, 1 failed, 0 errors, 1 skipped · **coverage** 91.2%" in text
    assert "- `tests/test_orders.py::test_total` (tests/test_orders.py:42)" in text
    assert "  AssertionError: total | 3 != 4\n  assert 3 == 4\n" in text
    assert "Run on a checkout of `0123456789ab`:" in text
    assert "```sh\nEXAMPLE_FAIL=1 ci-toolkit integration-run\n```" in text


def test_summary_trims_long_messages_and_fences_backticks(tmp_path: Path) -> None:
    noisy = FailedTest("t.py::test_x", "t.py", 1, "```\n" + "\n".join(f"line {i}" for i in range(100)))
    text = ghs.summary_markdown(failed_result(noisy), invocation(tmp_path), tmp_path)
    assert "line 10" in text and "line 11" not in text and "…" in text
    assert "  ````\n  ```\n" in text  # a longer fence than the message's own


def test_summary_of_a_passed_run(tmp_path: Path) -> None:
    result = RunResult("passed", 0, "p", PHASES, tests=TestCounts(6), coverage_percent=97.0)
    text = ghs.summary_markdown(result, invocation(tmp_path), tmp_path)
    assert text.startswith("## ✅ ci-toolkit integration-run: passed (exit code 0)\n")
    assert "Failed tests" not in text and "```\n\n" not in text.split("| phase")[0]
    assert "**Tests:** 6 passed, 0 failed, 0 errors, 0 skipped · **coverage** 97.0%" in text


def test_summary_is_redacted(tmp_path: Path) -> None:
    leaky = FailedTest("t.py::test_x", "t.py", 1, f"expected {SECRET}")
    text = ghs.summary_markdown(failed_result(leaky), invocation(tmp_path), tmp_path)
    assert SECRET not in text and "expected ***" in text


def test_summary_table_cells_escape_pipes_and_html(tmp_path: Path) -> None:
    weird = FailedTest("t.py::test_x[a|b]", "t.py", 1, "m")
    result = RunResult(
        "tests_failed", 1, "p", (PhaseResult("x|<b>", "ok", 1),), tests=TestCounts(0, 1, 0, 0, (weird,))
    )
    text = ghs.summary_markdown(result, invocation(tmp_path), tmp_path)
    assert "| x\\|&lt;b&gt; | ok | 1.00 |" in text


def test_outputs_and_the_outputs_file(tmp_path: Path) -> None:
    values = gh.outputs(failed_result(FAILURE))
    assert values == {
        "status": "tests_failed",
        "exit-code": "1",
        "tests-passed": "5",
        "tests-failed": "1",
        "coverage": "91.2",
        "artifacts-dir": "/work/ci-artifacts/citk-proj-1234abcd",
        "project": "citk-proj-1234abcd",
    }
    target = tmp_path / "output"
    target.write_text("earlier=1\n")
    gh.write_outputs(target, {"a": "1", "multi": "x\ny", "secret": SECRET})
    lines = target.read_text().splitlines()
    assert lines[:2] == ["earlier=1", "a=1"]
    assert lines[2].startswith("multi<<ghadelimiter_")
    delimiter = lines[2].removeprefix("multi<<")
    assert lines[3:6] == ["x", "y", delimiter]
    assert lines[6] == "secret=***"


def test_publish_writes_annotations_summary_and_outputs_but_never_github_env(tmp_path: Path) -> None:
    files = {name: tmp_path / name for name in ("summary.md", "output", "env")}
    files["summary.md"].write_text("previous step\n")
    for name in ("output", "env"):
        files[name].write_text("")
    environ = {
        "GITHUB_STEP_SUMMARY": str(files["summary.md"]),
        "GITHUB_OUTPUT": str(files["output"]),
        "GITHUB_ENV": str(files["env"]),
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_SHA": "feedface" * 5,
    }
    stream = io.StringIO()
    gh.publish(failed_result(FAILURE), invocation(tmp_path), stream, environ)
    assert stream.getvalue().startswith("::error file=tests/test_orders.py,line=42,")
    summary = files["summary.md"].read_text()
    assert summary.startswith("previous step\n## ❌ ci-toolkit integration-run: tests_failed")
    assert "checkout of `feedfacefeed`" in summary
    assert "status=tests_failed\n" in files["output"].read_text()
    assert files["env"].read_text() == ""


def test_unwritable_runner_files_are_a_warning_not_a_failure(tmp_path: Path) -> None:
    environ = {"GITHUB_OUTPUT": str(tmp_path), "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}
    stream = io.StringIO()
    gh.publish(failed_result(FAILURE), invocation(tmp_path), stream, environ)
    gh.started("citk-x-3", environ)
    assert (
        stream.getvalue()
        .splitlines()[-1]
        .startswith("::warning::could not write the job summary or step outputs: [Errno 21] Is a directory")
    )


def test_started_records_the_project_at_once(tmp_path: Path) -> None:
    target = tmp_path / "output"
    gh.started("citk-x-1", {"GITHUB_OUTPUT": str(target)})
    assert target.read_text() == "project=citk-x-1\n"
    gh.started("citk-x-2", {})  # no runner file: nothing to do


# -- through the CLI (no Docker: the config is wrong, so nothing starts) --------------------------------


def test_cli_github_flag_on_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "ci-toolkit.toml").write_text('compose_files = ["c.yml"]\n\n[services.db]\nkind = "nope"\n')
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    env = {
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_WORKSPACE": str(tmp_path),
    }
    result = run_cli(["integration-run", "--github"], cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 2, result.output
    assert "::error file=ci-toolkit.toml,line=4,title=ci-toolkit%3A config_error::" in result.stdout
    assert "## ❌ ci-toolkit integration-run: config_error (exit code 2)" in summary.read_text()
    assert "```sh\nci-toolkit integration-run\n```" in summary.read_text()
    assert "status=config_error\nexit-code=2\n" in output.read_text()


def test_cli_no_github_flag_wins_over_github_actions(tmp_path: Path) -> None:
    (tmp_path / "ci-toolkit.toml").write_text('compose_files = ["c.yml"]\n\n[services.db]\nkind = "nope"\n')
    output = tmp_path / "output"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "ci_toolkit", "integration-run", "--no-github"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "::" not in proc.stdout and not output.exists()
