"""A real AWS-compatible HTTP endpoint for the secrets tests: moto's server on 127.0.0.1.

ci-toolkit talks to it exactly as to AWS — real boto3/botocore over HTTP, SigV4 signing, the
credential chain (environment keys; web identity via sts:AssumeRoleWithWebIdentity), batching,
pagination, SecureString decryption, and IAM-enforced AccessDenied (moto checks each request's
signature and the caller's IAM policies once `enforce_iam()` is called).

What cannot run here is GitHub's OIDC token service: in Actions the runner hands out a JWT via
ACTIONS_ID_TOKEN_REQUEST_URL and aws-actions/configure-aws-credentials exchanges it. Tests
write a token file themselves, and moto's STS accepts it without checking its signature, issuer,
audience or subject — so a role trust policy is not exercised either.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import CliResult

REGION = "us-east-1"
ACCOUNT = "123456789012"
MOTO_SERVER = Path(sys.executable).parent / "moto_server"


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def env(self, key: str = "testing", secret: str = "testing") -> dict[str, str]:
        """What a CLI run needs to reach this endpoint with the given access key."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_REGION": REGION,
            **ISOLATED,
        }

    def client(self, service: str, key: str = "testing", secret: str = "testing") -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )

    def put(self, name: str, value: str, kind: str = "SecureString") -> None:
        self.client("ssm").put_parameter(Name=name, Value=value, Type=kind, Overwrite=True)

    def user(self, name: str, actions: Sequence[str]) -> tuple[str, str]:
        """An IAM user allowed only `actions`; returns its access key id and secret."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
        iam.put_user_policy(UserName=name, PolicyName="only", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def enforce_iam(self) -> None:
        """From now on every request must be signed by a known key and allowed by its policies."""
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200


# No shared config/credentials files, no instance metadata: only what a test gives counts.
ISOLATED = {
    "AWS_CONFIG_FILE": "/nonexistent/ci-toolkit-test/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/ci-toolkit-test/credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server(log_dir: Path) -> Iterator[MotoServer]:
    """Start `moto_server` on a free 127.0.0.1 port, wait until it answers, kill it at the end."""
    log_dir.mkdir(parents=True, exist_ok=True)
    server: MotoServer | None = None
    for _ in range(3):  # the free port can be taken between probing and binding
        port = _free_port()
        log = log_dir / f"moto-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        candidate = MotoServer(f"http://127.0.0.1:{port}", proc, log)
        if _wait_until_up(candidate, timeout=30):
            server = candidate
            break
        _stop(proc)
    assert server is not None, "moto_server did not start; see " + str(log_dir)
    try:
        yield server
    finally:
        _stop(server.process)


def _wait_until_up(server: MotoServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{server.url}/moto-api/data.json", timeout=1) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment without any AWS or GitHub variables, plus CI=true and `extra`."""
    drop = ("AWS_", "GITHUB_", "ACTIONS_", "RUNNER_")
    base = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**base, "CI": "true", **ISOLATED, **(extra or {})}


def use_in_process(server: MotoServer, monkeypatch: Any) -> dict[str, str]:
    """This process's environment as a CLI run would see it, for in-process resolution against
    `server`: the shell's AWS/GitHub variables removed, the server's set (undone by `monkeypatch`)."""
    env = clean_env(server.env())
    for name in list(os.environ):
        if name.startswith(("AWS_", "GITHUB_", "ACTIONS_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def run_toolkit(
    args: Sequence[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> CliResult:
    """`ci-toolkit ARGS` as a subprocess with exactly `clean_env(env)`: unlike `run_cli`, no AWS
    variable of the developer's shell leaks in, and GITHUB_ACTIONS may be set on purpose."""
    proc = subprocess.run(
        [sys.executable, "-m", "ci_toolkit", *args],
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


OPTIONAL_API_KEY = 'API_KEY = { name = "/ci/test/api_key", optional = true }\n'


def declare_secret(project: Path, line: str) -> None:
    """Replace the example's optional API_KEY declaration in the project's ci-toolkit.toml."""
    cfg = project / "ci-toolkit.toml"
    text = cfg.read_text()
    assert OPTIONAL_API_KEY in text, "EXAMPLE_CONFIG no longer declares the optional API_KEY"
    cfg.write_text(text.replace(OPTIONAL_API_KEY, line.rstrip("\n") + "\n"))


def docker_now() -> str:
    """The engine's clock (for `docker events --since`), not this machine's."""
    out = subprocess.run(
        ["docker", "info", "--format", "{{json .SystemTime}}"], capture_output=True, text=True, check=True
    ).stdout
    return str(json.loads(out))


def container_events(project: str, since: str) -> list[str]:
    """Every engine event for this compose project since `since`: empty if nothing was created."""
    out = subprocess.run(
        [
            "docker",
            "events",
            "--since",
            since,
            "--until",
            docker_now(),
            "--filter",
            f"label=com.docker.compose.project={project}",
            "--format",
            "{{.Type}} {{.Action}}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [line for line in out.splitlines() if line.strip()]
