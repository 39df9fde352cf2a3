"""ci_toolkit.output.github_log: what may quote foreign text is fenced from the Actions runner,
each fence with a fresh token; ci-toolkit's own commands and status lines are not."""

from __future__ import annotations

import io

from ci_toolkit.errors import ServiceNotReady
from ci_toolkit.output.github_log import GitHubReporter
from ci_toolkit.results.model import FailedTest, PhaseResult
from tests.unit.output.test_github import failed_result


def fenced_lines(output: str) -> tuple[list[str], list[str]]:
    """(lines inside a stop-commands fence, lines outside), checking each fence's token is
    fresh and that each fence is closed."""
    inside: list[str] = []
    outside: list[str] = []
    token: str | None = None
    seen: set[str] = set()
    for line in output.splitlines():
        if token is None and line.startswith("::stop-commands::"):
            token = line.removeprefix("::stop-commands::")
            assert len(token) == 32 and token not in seen
            seen.add(token)
        elif token is not None and line == f"::{token}::":
            token = None
        else:
            (inside if token else outside).append(line)
    assert token is None, "a fence was left open"
    return inside, outside


def test_errors_quoting_service_logs_are_fenced_each_with_a_fresh_token() -> None:
    out = io.StringIO()
    reporter = GitHubReporter(out)
    logs = "starting\n  ::add-mask::x\n\t::error::y\n##[set-output name=status;]passed\n"
    error = ServiceNotReady("api", "service 'api' failed while starting: exited with code 1", logs=logs)
    reporter.phase_start("ready")
    reporter.error(f"ready: {error}")
    reporter.phase_end(PhaseResult("ready", "failed", 1.0))
    reporter.error(str(error))  # the run's message, printed again at the end
    inside, outside = fenced_lines(out.getvalue())
    assert "      ::add-mask::x" in inside and "    \t::error::y" in inside
    assert outside == ["::group::ready", "==> ready", "::endgroup::", "<== ready FAILED in 1.00s"]


def test_quiet_errors_and_the_summary_are_fenced_too() -> None:
    out = io.StringIO()
    reporter = GitHubReporter(out, quiet=True)
    reporter.error("compose said:\n    ::warning::from stderr")
    failing = FailedTest("t.py::test_x", "t.py", 1, "AssertionError: ::add-mask::z")
    reporter.summary(failed_result(failing))
    inside, outside = fenced_lines(out.getvalue())
    assert outside == []
    assert "    ::warning::from stderr" in inside
    assert "  FAILED t.py::test_x: AssertionError: ::add-mask::z" in inside


def test_a_status_line_that_looks_like_a_command_is_fenced_and_commands_never_are() -> None:
    out = io.StringIO()
    reporter = GitHubReporter(out)
    reporter.phase_start("test")
    reporter.test_output("collected 1 item")
    reporter.service_ready("::add-mask::svc", 0.5)  # a service name from the config
    reporter.phase_end(PhaseResult("test", "ok", 0.5))
    reporter.phase_start("collect")
    inside, outside = fenced_lines(out.getvalue())
    assert "    ::add-mask::svc: ready in 0.50s" in inside and "collected 1 item" in inside
    assert outside == [
        "::group::test",
        "==> test",
        "::endgroup::",
        "<== test ok in 0.50s",
        "::group::collect",
        "==> collect",
    ]


def test_a_phase_detail_is_fenced_it_may_quote_compose() -> None:
    out = io.StringIO()
    reporter = GitHubReporter(out)
    reporter.phase_end(PhaseResult("collect", "ok", 0.1, "compose-ps.json: failed:\n    ::add-mask::q"))
    inside, outside = fenced_lines(out.getvalue())
    assert outside == ["::endgroup::"] and "    ::add-mask::q)" in inside
