"""Issue 11 (7): what a `secrets.paths` leaf may become. Leaves become variables by name, so a
parameter under a path must not set a variable that controls how the tests' processes run or
replace an export; a value too short to mask is refused too. Against a real AWS-compatible
endpoint (moto's server, see tests/aws_fixtures.py)."""

from __future__ import annotations

import secrets as random
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_toolkit import secret_store
from ci_toolkit.config.secret_params import SecretParam, SecretPath, SecretsConfig
from ci_toolkit.errors import ConfigError, EnvironmentInvalid, ExitCode
from tests.aws_fixtures import MotoServer, moto_server, run_toolkit, use_in_process

pytestmark = pytest.mark.integration

FINE = f"fine-{random.token_hex(6)}"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        server.put("/svc/tree/api_key", FINE)
        server.put("/svc/tree/pytest_addopts", "-p evil_plugin")
        server.put("/svc/tree/ld_preload", "/tmp/evil.so")
        server.put("/svc/tree/database_url", "postgresql://elsewhere")
        server.put("/svc/short/pin", "123")
        yield server


@pytest.fixture
def aws_env(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return use_in_process(moto, monkeypatch)


def test_path_leaves_that_control_processes_or_replace_an_export_are_refused(aws_env: dict[str, str]) -> None:
    res = secret_store.resolve(
        SecretsConfig(paths=(SecretPath("/svc/tree"),)), reserved={"DATABASE_URL": "export"}
    )
    assert res.values == {"API_KEY": FINE}
    with pytest.raises(ConfigError) as info:
        res.raise_if_failed()
    message = str(info.value)
    assert info.value.exit_code == ExitCode.CONFIG
    assert (
        "secrets.paths: /svc/tree/pytest_addopts becomes PYTEST_ADDOPTS: PYTEST_ADDOPTS controls how"
        in message
    )
    assert "secrets.paths: /svc/tree/ld_preload becomes LD_PRELOAD: LD_PRELOAD controls how" in message
    assert (
        "secrets.paths: /svc/tree/database_url becomes DATABASE_URL: DATABASE_URL is also in export"
        in message
    )
    assert 'map it explicitly: APP_PYTEST_ADDOPTS = "/svc/tree/pytest_addopts"' in message
    assert "evil" not in message and "elsewhere" not in message


def test_a_parameter_mapped_explicitly_is_not_also_taken_by_its_leaf_name(aws_env: dict[str, str]) -> None:
    cfg = SecretsConfig(
        params=(
            SecretParam("APP_PYTEST_ADDOPTS", "/svc/tree/pytest_addopts"),
            SecretParam("APP_LD_PRELOAD", "/svc/tree/ld_preload"),
            SecretParam("OTHER_DATABASE_URL", "/svc/tree/database_url"),
        ),
        paths=(SecretPath("/svc/tree"),),
    )
    res = secret_store.resolve(cfg, reserved={"DATABASE_URL": "export"})
    assert not res.problems, res.problems
    assert set(res.values) == {"APP_PYTEST_ADDOPTS", "APP_LD_PRELOAD", "OTHER_DATABASE_URL", "API_KEY"}


def test_a_short_value_under_a_path_is_refused_unless_allowed(aws_env: dict[str, str]) -> None:
    refused = secret_store.resolve(SecretsConfig(paths=(SecretPath("/svc/short"),)))
    with pytest.raises(EnvironmentInvalid, match=r"PIN \(ssm /svc/short/pin\) is 3 characters long"):
        refused.raise_if_failed()
    allowed = secret_store.resolve(SecretsConfig(paths=(SecretPath("/svc/short", allow_short=True),)))
    assert allowed.values == {"PIN": "123"} and not allowed.problems


def test_secrets_check_exits_2_naming_the_leaf_and_the_variable(moto: MotoServer, tmp_path: Path) -> None:
    (tmp_path / "ci-toolkit.toml").write_text(
        'compose_files = []\n[export]\nDATABASE_URL = "postgresql://x"\n[secrets]\npaths = ["/svc/tree/"]\n'
    )
    result = run_toolkit(["secrets", "check"], tmp_path, moto.env())
    assert result.returncode == ExitCode.CONFIG, result.output
    assert "becomes PYTEST_ADDOPTS" in result.output and "evil" not in result.output
