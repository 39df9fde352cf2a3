"""`[secrets]` parsing: the forms a user writes, and what each mistake looks like."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_toolkit import config
from ci_toolkit.config.secret_params import SecretParam, SecretPath
from ci_toolkit.errors import ConfigError
from tests.conftest import EXAMPLE_CONFIG, REPO, config_error, load_config_text

load = load_config_text
load_error = config_error


def test_string_and_table_forms_paths_and_options(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        "[secrets]\n"
        'region = "eu-west-1"\n'
        "with_decryption = false\n"
        "migrations = true\n"
        'paths = ["/team/test/svc/", { path = "/team/test/extra", optional = true }]\n'
        'OPENAI_API_KEY = "/team/prod/svc/openai_api_key"\n'
        'API_KEY = { name = "/ci/test/api_key", optional = true }\n'
        'PLAIN = "legacy-name"\n'
        'PINNED = "/team/test/svc/token:3"\n',
    )
    s = cfg.secrets
    assert s.params == (
        SecretParam("OPENAI_API_KEY", "/team/prod/svc/openai_api_key"),
        SecretParam("API_KEY", "/ci/test/api_key", optional=True),
        SecretParam("PLAIN", "legacy-name"),
        SecretParam("PINNED", "/team/test/svc/token:3"),
    )
    assert s.paths == (SecretPath("/team/test/svc"), SecretPath("/team/test/extra", optional=True))
    assert (s.region, s.with_decryption, s.migrations, s.configured) == ("eu-west-1", False, True, True)
    assert cfg.to_dict()["secrets"]["params"]["API_KEY"] == {"name": "/ci/test/api_key", "optional": True}
    assert "secrets" not in cfg.extra


def test_defaults_without_a_secrets_table(tmp_path: Path) -> None:
    s = load(tmp_path, 'compose_files = ["c.yml"]\n').secrets
    assert not s.configured and s.with_decryption and s.region is None and not s.migrations


def test_bundled_example_and_fixture_declare_an_optional_api_key(tmp_path: Path) -> None:
    for cfg in (config.load(REPO), load(tmp_path, EXAMPLE_CONFIG)):
        assert cfg.secrets.params == (SecretParam("API_KEY", "/ci/test/api_key", optional=True),)


def test_every_mistake_is_reported_at_once(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        "[secrets]\n"
        'regoin = "eu-west-1"\n'
        'region = "eu-west1"\n'
        'with_decryption = "yes"\n'
        'paths = ["team/test", 3]\n'
        'BAD = "a/b"\n'
        "NO_NAME = { optional = true }\n"
        'TYPO = { name = "/a/b", optinal = true }\n'
        "NUMBER = 5\n",
    )
    assert "secrets.regoin: unknown key (did you mean 'region'?)" in message
    assert "UPPER_CASE" in message
    assert "secrets.region: expected an AWS region like eu-west-1, got 'eu-west1'" in message
    assert "secrets.with_decryption: expected true or false" in message
    assert "secrets.paths[0]: expected a parameter path starting with /" in message
    assert "secrets.paths[1]: expected a string or a table" in message
    assert "secrets.BAD: not an SSM parameter name: 'a/b'" in message
    assert "secrets.NO_NAME.name: missing" in message
    assert "secrets.TYPO.optinal: unknown key (did you mean 'optional'?)" in message
    assert "secrets.NUMBER: expected a string or a table" in message


def test_a_secret_must_not_also_be_plain_env_or_an_export(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        '[env]\nrequired = ["API_KEY"]\ndefaults = { TOKEN = "x" }\n'
        '[export]\nURL = "http://x"\n'
        '[secrets]\nAPI_KEY = "/a/key"\nTOKEN = "/a/token"\nURL = "/a/url"\n',
    )
    assert "secrets.API_KEY: API_KEY is also in env.required" in message
    assert "secrets.TOKEN: TOKEN is also in env.defaults" in message
    assert "secrets.URL: URL is also in export" in message


def test_pyproject_form(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.ci-toolkit.secrets]\nAPI_KEY = "/ci/test/api_key"\nregion = "us-east-1"\n'
    )
    cfg = config.load(tmp_path)
    assert cfg.secrets.params == (SecretParam("API_KEY", "/ci/test/api_key"),)
    (tmp_path / "pyproject.toml").write_text('[tool.ci-toolkit.secrets]\napi_key = "/x"\n')
    with pytest.raises(ConfigError, match=r"tool\.ci-toolkit\.secrets\.api_key: unknown key"):
        config.load(tmp_path)


def test_a_secret_may_not_set_a_variable_that_controls_processes(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        '[secrets]\nPATH = "/a/path"\nPYTEST_ADDOPTS = "/a/opts"\nLD_PRELOAD = "/a/lib"\n'
        'DYLD_INSERT_LIBRARIES = "/a/d"\nCI_TOOLKIT_PROJECT = "/a/p"\nHOME = "/a/h"\nAPI_KEY = "/a/key"\n',
    )
    for name in (
        "PATH",
        "PYTEST_ADDOPTS",
        "LD_PRELOAD",
        "DYLD_INSERT_LIBRARIES",
        "CI_TOOLKIT_PROJECT",
        "HOME",
    ):
        assert f"secrets.{name}: {name} controls how the tests' processes run" in message
        assert f"e.g. APP_{name}" in message
    assert "secrets.API_KEY" not in message


def test_allow_short_per_secret_per_path_and_for_the_table(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        "[secrets]\n"
        'PIN = { name = "/a/pin", allow_short = true }\n'
        'API_KEY = "/a/key"\n'
        'paths = [{ path = "/a/tree/", allow_short = true }, "/b/"]\n',
    ).secrets
    assert s.params == (SecretParam("PIN", "/a/pin", allow_short=True), SecretParam("API_KEY", "/a/key"))
    assert s.paths == (SecretPath("/a/tree", allow_short=True), SecretPath("/b"))
    assert s.to_dict()["params"]["PIN"] == {"name": "/a/pin", "optional": False, "allow_short": True}
    everything = load(tmp_path, '[secrets]\nallow_short = true\nAPI_KEY = "/a/key"\n').secrets
    assert everything.params == (SecretParam("API_KEY", "/a/key", allow_short=True),)
    assert "secrets.allow_short: expected true or false" in load_error(
        tmp_path, '[secrets]\nallow_short = "y"\n'
    )
