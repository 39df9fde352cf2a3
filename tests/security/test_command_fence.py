"""Issue 11 (3): a container's log lines quoted in ci-toolkit's messages never reach the
Actions runner as workflow commands. A service echoes an indented `::add-mask::` and
`::error::` (and the legacy `##[...]` form), then exits during readiness: with `--github`, each
of those lines reaches stdout or stderr only inside a `::stop-commands::TOKEN` fence."""

from __future__ import annotations

import re
import secrets as random
from pathlib import Path

import pytest

from tests.aws_fixtures import run_toolkit
from tests.conftest import assert_no_leaks

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

FAKE = ("::add-mask::x", "::error::y", "##[set-output name=status;]passed")
REDIS_COMMAND = (
    '    command: ["sh", "-c", "echo starting; echo \'   ::add-mask::x\'; printf \'\\\\t::error::y\\\\n\'; '
    "echo '  ##[set-output name=status;]passed'; sleep 1; exit 1\"]\n"
)


def runner_command(line: str) -> str | None:
    """The command the Actions runner would take `line` for (actions/runner ActionCommand): a
    line starting with `::` once its indentation is trimmed, else a legacy `##[` anywhere in it."""
    stripped = line.lstrip()
    if stripped.startswith("::"):
        return stripped
    return line[line.index("##[") :] if "##[" in line else None


def lines_outside_fences(output: str) -> list[str]:
    """Every line the runner would parse for commands: outside each stop-commands fence, whose
    token (random, 32 hex digits) must differ from every other fence's."""
    outside, token, seen = [], None, set()
    for line in output.splitlines():
        if token is None and (match := re.fullmatch(r"::stop-commands::([0-9a-f]{32})", line)):
            token = match[1]
            assert token not in seen, "a fence token was used twice"
            seen.add(token)
        elif token is not None and line == f"::{token}::":
            token = None
        elif token is None:
            outside.append(line)
    assert token is None, "a fence was never closed"
    return outside


def test_service_log_lines_in_an_error_are_fenced_from_the_runner(
    example_project: Path, tmp_path: Path
) -> None:
    compose = example_project / "docker-compose.test.yml"
    text = compose.read_text()
    compose.write_text(
        text.replace("  redis:\n    image: redis:7\n", "  redis:\n    image: redis:7\n" + REDIS_COMMAND)
    )
    project = f"sec-fence-{random.token_hex(4)}"
    args = ["integration-run", "--github", "--project", project, "--artifacts-dir", str(tmp_path / "art")]
    result = run_toolkit(args, example_project, {"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")})
    assert result.returncode == 4, result.output
    assert "failed while starting" in result.stdout and "last log lines of redis" in result.stdout
    for stream in (result.stdout, result.stderr):
        outside = lines_outside_fences(stream)
        obeyed = [line for line in outside if runner_command(line) in FAKE]
        assert obeyed == [], obeyed
    quoted = [line for line in result.stdout.splitlines() if line.strip() in FAKE]
    assert len(quoted) >= 3  # the log lines were printed: inside fences
    assert_no_leaks(project)
