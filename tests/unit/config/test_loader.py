"""Config validation: what a user sees for each kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_toolkit import config
from ci_toolkit.errors import ConfigError
from tests.conftest import EXAMPLE_CONFIG, REPO, config_error


def write(tmp_path: Path, text: str, name: str = "ci-toolkit.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


load_error = config_error


def test_bundled_example_config_loads() -> None:
    cfg = config.load(REPO)
    assert cfg.source == REPO / "pyproject.toml"
    assert [s.name for s in cfg.services] == ["postgres", "redis", "nats"]
    nats = cfg.service("nats")
    assert nats is not None and nats.jetstream and nats.monitor_port == 8222
    assert cfg.migrations is not None and cfg.migrations.directory == REPO / "migrations"
    assert cfg.pytest.paths == ("example/tests",)


def test_ci_toolkit_toml_wins_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path, '[tool.ci-toolkit]\nartifacts_dir = "from-pyproject"\n', "pyproject.toml")
    write(tmp_path, 'artifacts_dir = "from-toml"\n')
    assert config.load(tmp_path).artifacts_dir == tmp_path / "from-toml"


def test_unknown_key_names_file_key_and_near_miss(tmp_path: Path) -> None:
    message = load_error(tmp_path, 'compose_file = ["x.yml"]\n')
    assert "ci-toolkit.toml" in message
    assert "compose_file: unknown key (did you mean 'compose_files'?)" in message


def test_wrong_type_names_expected_type(tmp_path: Path) -> None:
    message = load_error(tmp_path, '[services.db]\nkind = "postgres"\nport = "5432"\n')
    assert "services.db.port: expected an integer, got a string ('5432')" in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    message = load_error(tmp_path, 'artifact_dir = "x"\n[timeouts]\nup = -1\n[services.q]\nkind = "rabbit"\n')
    assert "artifact_dir: unknown key (did you mean 'artifacts_dir'?)" in message
    assert "timeouts.up: must be greater than 0" in message
    assert "services.q.kind: expected one of postgres, redis, nats, http, tcp, got 'rabbit'" in message


def test_kind_specific_key_on_wrong_kind(tmp_path: Path) -> None:
    message = load_error(tmp_path, '[services.cache]\nkind = "redis"\njetstream = true\n')
    assert "services.cache.jetstream: only applies to kind = 'nats', not 'redis'" in message


def test_missing_kind(tmp_path: Path) -> None:
    message = load_error(tmp_path, "[services.cache]\nport = 6379\n")
    assert "services.cache.kind: missing" in message


def test_malformed_toml_names_file_and_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, 'compose_files = ["a.yml"\nartifacts_dir = 3\n')
    assert "ci-toolkit.toml: not valid TOML" in message
    assert "line" in message


def test_bad_template_is_caught_at_load(tmp_path: Path) -> None:
    message = load_error(tmp_path, '[export]\nURL = "http://{web.hostname}/"\n')
    assert "export.URL" in message and "a service has .host and .port, not .hostname" in message


def test_pyproject_without_table_says_what_to_add(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = "x"\n', "pyproject.toml")
    with pytest.raises(ConfigError, match=r"has no \[tool.ci-toolkit\] table"):
        config.load(tmp_path)


def test_no_config_at_all(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no ci-toolkit config"):
        config.load(tmp_path)


def test_defaults_and_example_fixture_config(tmp_path: Path) -> None:
    write(tmp_path, EXAMPLE_CONFIG)
    cfg = config.load(tmp_path)
    assert cfg.timeouts.test == 300
    assert cfg.export["REDIS_URL"] == "redis://{redis.host}:{redis.port:6379}/0"
    assert cfg.to_dict()["services"]["postgres"]["password"] == "***"


@pytest.mark.parametrize("prefix", ["../..", "a/b", "CI", "-x", "", "citk.", "ci tk", "é"])
def test_project_prefix_outside_composes_rule_is_a_config_error(tmp_path: Path, prefix: str) -> None:
    """The prefix starts every compose project name and a directory under artifacts_dir."""
    message = load_error(tmp_path, f"project_prefix = {prefix!r}\n")
    assert f"project_prefix: {prefix!r} cannot start a compose project name" in message
    assert "lowercase letters, digits, dashes and underscores, starting with a letter or digit" in message


@pytest.mark.parametrize("prefix", ["citk", "ci_toolkit", "0ci", "team-a"])
def test_project_prefix_within_composes_rule_loads(tmp_path: Path, prefix: str) -> None:
    write(tmp_path, f"project_prefix = {prefix!r}\n")
    assert config.load(tmp_path).project_prefix == prefix
