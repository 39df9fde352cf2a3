"""Project names, given (--project) or made up, follow compose's rule and stay under artifacts_dir."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from pathlib import Path

import pytest

from ci_toolkit.config import Config
from ci_toolkit.errors import ConfigError, ExitCode, UsageError
from ci_toolkit.output.console import Reporter
from ci_toolkit.pipeline import context
from ci_toolkit.pipeline.context import RunOptions
from tests.conftest import load_config_text

COMPOSE_RULE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
RULE_TEXT = "lowercase letters, digits, dashes and underscores, starting with a letter or digit"


def _config(tmp_path: Path) -> Config:
    return load_config_text(tmp_path, 'artifacts_dir = "ci-artifacts"\n')  # type: ignore[no-any-return]


def _plan(config: Config, project: str | None) -> context.RunContext:
    return context.plan(config, RunOptions(project=project), Reporter(io.StringIO()))


@pytest.mark.parametrize(
    "project", ["../..", "../escape", "/tmp/x", "My-Project", "-leading", "a.b", "a b", "ü"]
)
def test_an_invalid_project_is_refused_naming_it_and_the_rule(tmp_path: Path, project: str) -> None:
    with pytest.raises(UsageError) as info:
        _plan(_config(tmp_path), project)
    assert info.value.exit_code == ExitCode.CONFIG
    assert f"--project {project!r} is not a valid compose project name" in info.value.message
    assert RULE_TEXT in info.value.message


@pytest.mark.parametrize("project", ["ci_1", "0-run", "team-a-42"])
def test_a_valid_project_is_used_as_given_under_the_artifacts_dir(tmp_path: Path, project: str) -> None:
    config = _config(tmp_path)
    ctx = _plan(config, project)
    assert ctx.project == project
    assert ctx.run_dir == (config.artifacts_dir / project).resolve()
    assert ctx.run_dir.is_relative_to(config.artifacts_dir.resolve())


@pytest.mark.parametrize("directory", ["Mein Projekt", "café.app", "___", "x" * 40, "ünïcödé"])
def test_a_generated_project_follows_composes_rule_whatever_the_directory(
    tmp_path: Path, directory: str
) -> None:
    root = tmp_path / directory
    root.mkdir()
    ctx = _plan(_config(root), None)
    assert COMPOSE_RULE.match(ctx.project), ctx.project
    assert ctx.project.startswith("citk-") and ctx.project.endswith(ctx.run_id)


def test_a_prefix_that_bypassed_the_loader_is_a_config_error(tmp_path: Path) -> None:
    config = replace(_config(tmp_path), project_prefix="../..")
    with pytest.raises(
        ConfigError, match=r"project_prefix '\.\./\.\.' makes the invalid compose project name"
    ):
        _plan(config, None)
