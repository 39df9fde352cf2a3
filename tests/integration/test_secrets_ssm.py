"""Parameter Store reads against a real AWS-compatible endpoint (moto's server, see
tests/aws_fixtures.py): batching, pagination, decryption, endpoint variables, web identity,
throttling, and what `ci-toolkit secrets check` shows (names and sources, never values)."""

from __future__ import annotations

import json
import secrets as random
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ci_toolkit.config.secret_params import SecretParam, SecretPath, SecretsConfig
from ci_toolkit.secret_store import aws, resolve
from tests.aws_fixtures import ACCOUNT, MotoServer, moto_server, run_toolkit, use_in_process

pytestmark = pytest.mark.integration

API_KEY = f"sk-{random.token_hex(10)}"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        server.put("/ci/test/api_key", API_KEY)
        for i in range(12):
            server.put(f"/ci/batch/p{i:02d}", f"batch-{i}", "String")
        for i in range(23):
            server.put(f"/ci/tree/{'deep/' if i % 2 else ''}leaf-{i:02d}", f"tree-{i}")
        yield server


@pytest.fixture
def aws_env(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process's environment as a CLI run would see it (for in-process resolution)."""
    return use_in_process(moto, monkeypatch)


def write_config(tmp_path: Path, body: str) -> Path:
    (tmp_path / "ci-toolkit.toml").write_text(f"compose_files = []\n[secrets]\n{body}")
    return tmp_path


def test_twelve_names_are_fetched_in_batches_of_ten(aws_env: dict[str, str]) -> None:
    params = tuple(SecretParam(f"P{i:02d}", f"/ci/batch/p{i:02d}") for i in range(12))
    res = resolve(SecretsConfig(params=params))
    assert not res.problems, res.problems
    assert res.values == {f"P{i:02d}": f"batch-{i}" for i in range(12)}  # moto rejects > 10 per call


def test_a_path_is_read_recursively_across_pages_as_upper_cased_leaf_names(aws_env: dict[str, str]) -> None:
    store = aws.ParameterStore(None)
    assert len(store.get_path("/ci/tree")) == 23  # 10 per page: three pages
    res = resolve(SecretsConfig(paths=(SecretPath("/ci/tree"),)))
    assert res.values == {f"LEAF_{i:02d}": f"tree-{i}" for i in range(23)}


def test_secure_string_is_decrypted_unless_told_not_to(aws_env: dict[str, str]) -> None:
    param = (SecretParam("API_KEY", "/ci/test/api_key"),)
    assert resolve(SecretsConfig(params=param)).values == {"API_KEY": API_KEY}
    raw = resolve(SecretsConfig(params=param, with_decryption=False)).values["API_KEY"]
    assert raw != API_KEY  # moto: "kms:alias/aws/ssm:<value>"; AWS: the ciphertext


def test_service_specific_endpoint_variable_is_honoured(moto: MotoServer, tmp_path: Path) -> None:
    """boto3 >= 1.28 reads AWS_ENDPOINT_URL_SSM itself: it wins over AWS_ENDPOINT_URL."""
    write_config(tmp_path, 'API_KEY = "/ci/test/api_key"\n')
    env = {**moto.env(), "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ENDPOINT_URL_SSM": moto.url}
    result = run_toolkit(["secrets", "check"], tmp_path, env)
    assert result.returncode == 0, result.output
    assert "API_KEY: ok (ssm /ci/test/api_key): SecureString" in result.stdout


def test_secrets_check_lists_names_and_sources_never_values(moto: MotoServer, tmp_path: Path) -> None:
    write_config(
        tmp_path, 'API_KEY = "/ci/test/api_key"\nOPTIONAL = { name = "/ci/test/nope", optional = true }\n'
    )
    result = run_toolkit(["secrets", "check"], tmp_path, moto.env())
    assert result.returncode == 0, result.output
    assert "API_KEY: ok (ssm /ci/test/api_key): SecureString" in result.stdout
    assert "OPTIONAL: skipped (ssm /ci/test/nope): optional; no such parameter" in result.stdout
    assert "secrets: 1 resolved from SSM (us-east-1, credentials: env), 1 optional not set" in result.stdout
    assert API_KEY not in result.output

    as_json = run_toolkit(["secrets", "check", "--json"], tmp_path, moto.env())
    data = as_json.json()
    assert data["status"] == "ok" and data["exit_code"] == 0
    assert [(s["env"], s["status"]) for s in data["secrets"]] == [("API_KEY", "ok"), ("OPTIONAL", "skipped")]
    assert API_KEY not in as_json.output


def test_secrets_check_in_actions_masks_before_printing(moto: MotoServer, tmp_path: Path) -> None:
    write_config(tmp_path, 'API_KEY = "/ci/test/api_key"\n')
    result = run_toolkit(["secrets", "check"], tmp_path, {**moto.env(), "GITHUB_ACTIONS": "true"})
    assert result.returncode == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"::add-mask::{API_KEY}"  # the first thing printed
    assert sum(API_KEY in line for line in lines) == 1


def test_offline_sources_need_no_aws(tmp_path: Path) -> None:
    write_config(tmp_path, 'API_KEY = "/ci/test/api_key"\n')
    value = f"offline-{random.token_hex(6)}"
    from_env = run_toolkit(["secrets", "check", "--secrets-from-env"], tmp_path, {"API_KEY": value})
    assert from_env.returncode == 0, from_env.output
    assert "API_KEY: ok (environment)" in from_env.stdout and value not in from_env.output
    (tmp_path / "ci.env").write_text(f"# local values\nAPI_KEY={value}\n")
    from_file = run_toolkit(["secrets", "check", "--secrets-file", "ci.env"], tmp_path)
    assert from_file.returncode == 0, from_file.output
    assert "API_KEY: ok (ci.env:2)" in from_file.stdout and value not in from_file.output
    missing = run_toolkit(["secrets", "check", "--secrets-from-env"], tmp_path)
    assert missing.returncode == 10, missing.output
    assert "API_KEY is not set in the environment" in missing.stderr
    both = run_toolkit(["secrets", "check", "--secrets-from-env", "--secrets-file", "ci.env"], tmp_path)
    assert both.returncode == 2 and "exclude each other" in both.stderr


def test_web_identity_role_is_assumed_through_sts(moto: MotoServer, tmp_path: Path) -> None:
    """The chain's OIDC path: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE -> AssumeRoleWithWebIdentity.
    The token is made up here; GitHub's token service is the one part that cannot run locally."""
    write_config(tmp_path, 'API_KEY = "/ci/test/api_key"\n')
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm8vcjpyZWY6cmVmcy9oZWFkcy9tYWluIn0.c2ln")
    env = {
        **moto.env(),
        "AWS_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/ci-secrets",
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
    }
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    result = run_toolkit(["secrets", "check"], tmp_path, env)
    assert result.returncode == 0, result.output
    assert "credentials: assume-role-with-web-identity" in result.stdout


class _Throttler(BaseHTTPRequestHandler):
    """Answers the first `budget` requests with SSM's throttling error, then forwards to moto."""

    upstream = ""
    budget = 0
    seen = 0
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.lock:
            type(self).seen += 1
            throttle = type(self).seen <= self.budget
        if throttle:
            payload = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(self.upstream + self.path, data=body, headers=headers, method="POST")
        # botocore's own read timeout: a slow moto on a loaded machine is not a failure here.
        with urllib.request.urlopen(request, timeout=60) as answer:
            payload = answer.read()
            self.send_response(answer.status)
            for key, value in answer.headers.items():
                if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize(("budget", "attempts"), [(2, 3), (4, 1)])
def test_throttling_is_retried_with_backoff(
    budget: int, attempts: int, moto: MotoServer, aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Throttled answers are absorbed by botocore's retries (standard mode), and past those by
    ci-toolkit's own rounds on ThrottlingException (here with botocore retries off)."""
    _Throttler.upstream, _Throttler.budget, _Throttler.seen = moto.url, budget, 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Throttler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(aws, "BACKOFF_BASE", 0.05)
    monkeypatch.setattr(aws, "TOTAL_ATTEMPTS", attempts)  # botocore backs off up to 2**n s
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        found, missing = aws.ParameterStore(None).get(["/ci/test/api_key"])
    finally:
        server.shutdown()
        server.server_close()
    assert found["/ci/test/api_key"].value == API_KEY and not missing
    assert _Throttler.seen == budget + 1
