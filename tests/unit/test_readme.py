"""The README's two commands are the contract with a new user; CI must run the same ones."""

from __future__ import annotations

import re

from tests.conftest import REPO


def _quick_start_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_readme_gives_a_main_job_and_a_test_command() -> None:
    main_job, test_command = _quick_start_commands()
    assert main_job.endswith("ci-toolkit integration-run")
    assert "pytest" in test_command


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, test_command = _quick_start_commands()
    ci_script = (REPO / ".ci" / "run").read_text()
    assert test_command in ci_script.splitlines()


def test_ci_starts_the_engine_before_the_tests() -> None:
    ci_script = (REPO / ".ci" / "run").read_text()
    assert ci_script.index("docker-up.sh") < ci_script.index("-m pytest")
    assert '"$status" -eq 5' in ci_script  # pytest's "no tests collected" is handled explicitly


def test_readme_exit_code_table_matches_errors_module() -> None:
    from ci_toolkit.errors import ExitCode

    text = (REPO / "README.md").read_text()
    table = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(m) for m in re.findall(r"^\| (\d+)", table, re.M)}
    documented |= {143} if "130 / 143" in table else set()
    for name, value in vars(ExitCode).items():
        if name.isupper():
            assert value in documented, f"ExitCode.{name} = {value} is not in the README table"
