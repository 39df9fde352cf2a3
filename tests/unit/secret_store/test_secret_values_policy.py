"""What secret_store refuses: values too short to mask, and names that would change how the
tests' processes run or replace an export (offline sources; SSM paths: tests/security)."""

from __future__ import annotations

import json
import secrets as random
from pathlib import Path

import pytest

from ci_toolkit import secret_store
from ci_toolkit.config.secret_params import SecretParam, SecretsConfig
from ci_toolkit.errors import ConfigError, EnvironmentInvalid, ExitCode
from tests.conftest import load_config_text


def test_a_secret_too_short_to_mask_is_refused_naming_it_not_its_value() -> None:
    cfg = SecretsConfig(params=(SecretParam("PIN", "/a/pin"), SecretParam("API_KEY", "/a/key")))
    res = secret_store.resolve(
        cfg, "environment", environ={"PIN": "x9z", "API_KEY": f"k-{random.token_hex(6)}"}
    )
    assert "PIN" not in res.values and "API_KEY" in res.values
    with pytest.raises(EnvironmentInvalid) as info:
        res.raise_if_failed()
    assert info.value.exit_code == ExitCode.ENVIRONMENT == 3
    message = str(info.value)
    assert "PIN (environment) is 3 characters long: too short to be masked" in message
    assert "allow_short = true" in message and "x9z" not in message
    assert [(e.env, e.status) for e in res.entries] == [("PIN", "error"), ("API_KEY", "ok")]


def test_allow_short_gives_the_value_with_a_note() -> None:
    cfg = SecretsConfig(params=(SecretParam("PIN", "/a/pin", allow_short=True),))
    res = secret_store.resolve(cfg, "environment", environ={"PIN": "x9z"})
    assert res.values == {"PIN": "x9z"} and not res.problems
    assert "shorter than 4 characters, so not masked in output" in res.entries[0].note


def test_a_secrets_file_may_not_set_process_control_variables_or_replace_an_export(tmp_path: Path) -> None:
    config = load_config_text(
        tmp_path,
        'compose_files = []\n[export]\nDATABASE_URL = "postgresql://x"\n[secrets]\nAPI_KEY = "/a/key"\n',
    )
    env_file = tmp_path / "ci.env"
    key = f"k-{random.token_hex(6)}"
    env_file.write_text(
        f"API_KEY={key}\nPYTEST_ADDOPTS=-p evil\nDATABASE_URL=postgresql://other\nEXTRA=fine-value\n"
    )
    res = secret_store.resolve(
        config.secrets, f"file {env_file}", file=env_file, reserved=secret_store.reserved_names(config)
    )
    assert res.values == {"API_KEY": key, "EXTRA": "fine-value"}
    with pytest.raises(ConfigError) as info:
        res.raise_if_failed()
    message = str(info.value)
    assert info.value.exit_code == ExitCode.CONFIG
    assert f"--secrets-file {env_file}:2 becomes PYTEST_ADDOPTS: PYTEST_ADDOPTS controls how" in message
    assert f"--secrets-file {env_file}:3 becomes DATABASE_URL: DATABASE_URL is also in export" in message
    assert "-p evil" not in message and "postgresql://other" not in message
    assert json.dumps([e.to_dict() for e in res.entries]).count('"error"') == 2


def test_reserved_names_say_where_each_comes_from(tmp_path: Path) -> None:
    config = load_config_text(
        tmp_path,
        'compose_files = []\n[env]\nrequired = ["R"]\ndefaults = { D = "1" }\n[export]\nE = "x"\n',
    )
    assert secret_store.reserved_names(config) == {"R": "env.required", "D": "env.defaults", "E": "export"}
