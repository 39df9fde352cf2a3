"""Each way a secret can fail has its own exit code and a message that names the parameter and
says what to do — and no container is started. AccessDenied is real: moto's server checks
every request's signature and the caller's IAM policy (`enforce_iam`, see tests/aws_fixtures.py)."""

from __future__ import annotations

import secrets as random
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.aws_fixtures import ACCOUNT, MotoServer, declare_secret, moto_server, run_toolkit
from tests.conftest import CliResult, engine_events

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

VALUE = f"sk-{random.token_hex(8)}"
REQUIRED = 'API_KEY = "/ci/test/api_key"'


@pytest.fixture(scope="module")
def iam_moto(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[MotoServer, dict[str, str], dict[str, str]]]:
    """moto with IAM enforced; an admin, and a reader that may list names but not read values."""
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        server.put("/ci/test/api_key", VALUE)
        admin = server.user("ci-admin", ["*"])
        reader = server.user("ci-reader", ["ssm:GetParametersByPath", "ssm:DescribeParameters"])
        server.enforce_iam()
        yield server, server.env(*admin), server.env(*reader)


def failed_run(project_dir: Path, tmp_path: Path, env: dict[str, str], code: int) -> tuple[CliResult, dict]:  # type: ignore[type-arg]
    """An integration-run that must fail with `code` before any container of it exists."""
    project = f"secerr-{random.token_hex(4)}"
    with engine_events(project) as events:
        result = run_toolkit(
            ["integration-run", "--json", "--project", project, "--artifacts-dir", str(tmp_path / "art")],
            project_dir,
            env,
        )
    assert result.returncode == code, result.output
    data = result.json()
    assert data["exit_code"] == code
    assert [p["name"] for p in data["phases"]] == ["validate", "secrets", "collect"]  # no up, no down
    assert events == []  # the engine never saw this project
    assert VALUE not in result.output
    return result, data


def test_not_found_names_the_parameter_and_suggests_near_names(
    iam_moto: tuple[MotoServer, dict[str, str], dict[str, str]], example_project: Path, tmp_path: Path
) -> None:
    _, admin, _ = iam_moto
    declare_secret(example_project, 'API_KEY = "/ci/test/api_kye"')
    result, data = failed_run(example_project, tmp_path, admin, 10)
    assert data["status"] == "secret_not_found"
    assert "SSM parameter /ci/test/api_kye (for API_KEY) not found in region us-east-1" in data["message"]
    assert f"account {ACCOUNT}" in data["message"]
    assert "similar names under /ci/test: /ci/test/api_key" in data["message"]
    assert "optional = true" in data["message"]  # the hint says how to do without it
    assert "error: SSM parameter /ci/test/api_kye" in result.stderr


def test_access_denied_names_the_parameter_and_the_caller(
    iam_moto: tuple[MotoServer, dict[str, str], dict[str, str]], example_project: Path, tmp_path: Path
) -> None:
    _, _, reader = iam_moto
    declare_secret(example_project, REQUIRED)
    _, data = failed_run(example_project, tmp_path, reader, 11)
    assert data["status"] == "secret_access_denied"
    message = data["message"]
    assert "access denied reading SSM parameter /ci/test/api_key (for API_KEY)" in message
    assert f"as arn:aws:iam::{ACCOUNT}:user/ci-reader" in message
    assert "ssm:GetParameters" in message


def test_access_denied_fails_even_an_optional_secret(
    iam_moto: tuple[MotoServer, dict[str, str], dict[str, str]], example_project: Path
) -> None:
    """Optional covers absent AWS or an absent parameter, not a role that lacks a permission."""
    _, _, reader = iam_moto
    result = run_toolkit(["secrets", "check"], example_project, reader)
    assert result.returncode == 11, result.output
    assert "API_KEY: error (ssm /ci/test/api_key): SecretAccessDenied" in result.stdout


def test_rejected_credentials_are_a_credentials_error(
    iam_moto: tuple[MotoServer, dict[str, str], dict[str, str]], example_project: Path
) -> None:
    server, _, _ = iam_moto
    result = run_toolkit(["secrets", "check"], example_project, server.env("AKIAUNKNOWNKEY000000", "nope"))
    assert result.returncode == 12, result.output
    assert (
        "the AWS credentials (env) were not usable while reading API_KEY (/ci/test/api_key)" in result.stderr
    )
    assert "InvalidClientTokenId" in result.stderr


def test_no_credentials_in_actions_says_what_the_workflow_needs(
    example_project: Path, tmp_path: Path
) -> None:
    declare_secret(example_project, REQUIRED)
    env = {
        "AWS_REGION": "us-east-1",
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "outputs.txt"),
        "GITHUB_WORKSPACE": str(example_project),
    }
    _, data = failed_run(example_project, tmp_path, env, 12)
    assert data["status"] == "secret_no_credentials"
    message = data["message"]
    assert "no AWS credentials found to read API_KEY (/ci/test/api_key)" in message
    for source in (
        "AWS_ACCESS_KEY_ID",
        "AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE",
        "profile 'default'",
        "container credentials",
        "EC2 instance metadata",
    ):
        assert source in message
    assert "permissions: id-token: write" in message and "role-to-assume" in message
    assert "ACTIONS_ID_TOKEN_REQUEST_URL is not set" in message


def test_no_credentials_locally_points_at_login_and_offline_flags(example_project: Path) -> None:
    declare_secret(example_project, REQUIRED)
    result = run_toolkit(["secrets", "check"], example_project, {"AWS_REGION": "us-east-1"})
    assert result.returncode == 12, result.output
    assert "aws sso login" in result.stderr and "--secrets-from-env" in result.stderr
    assert "id-token" not in result.stderr


def test_an_endpoint_without_its_scheme_is_named_not_a_crash(
    iam_moto: tuple[MotoServer, dict[str, str], dict[str, str]], example_project: Path, tmp_path: Path
) -> None:
    server, admin, _ = iam_moto
    declare_secret(example_project, REQUIRED)
    bare = server.url.split("://", 1)[1]  # 127.0.0.1:PORT, as someone might write minio:9000
    env = {**admin, "AWS_ENDPOINT_URL": bare, "AWS_ENDPOINT_URL_SSM": bare}
    result = run_toolkit(["secrets", "check"], example_project, env)
    assert result.returncode == 4, result.output
    assert f"Invalid endpoint: {bare}" in result.stderr
    assert "an endpoint is a URL, e.g. http://minio:9000" in result.stderr
