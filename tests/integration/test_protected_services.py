"""Password-protected Redis and NATS: probed with their credentials (from the config, or from the
compose file as the user wrote it), and a refused credential ends the wait at once."""

from __future__ import annotations

import secrets
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

READY_TIMEOUT = 120  # the services' own and the phase's: a refusal must come long before it
FAST = 30.0  # "at once": the whole run, compose up and teardown included, well under the timeout

# Every credential below; none of them may appear in anything the run prints or writes.
PASSWORDS = (
    "tls-pass-3b7d1",
    "tls-pass-0e5a8",
    "req-pass-7f3a9",
    "cmd-pass-51c2e",
    "alice-pass-9d04",
    "bus-pass-c81f7",
    "bus-token-6e2b0",
)

COMPOSE = {
    # requirepass, the password given in the config
    "cache_req": """\
    image: redis:7
    command: ["redis-server", "--requirepass", "req-pass-7f3a9"]
""",
    # requirepass, the password only in the compose file (a command string, as users write it)
    "cache_cmd": """\
    image: redis:7
    command: redis-server --appendonly no --requirepass cmd-pass-51c2e
""",
    # an ACL user, the default user switched off
    "cache_acl": """\
    image: redis:7
    command: redis-server --user alice on '>alice-pass-9d04' '~*' '&*' +@all --user default off
""",
    # user and password only in the compose file
    "bus_user": """\
    image: nats:2.10
    command: ["-js", "--user", "bus", "--pass", "bus-pass-c81f7"]
""",
    # a token, given in the config
    "bus_tok": """\
    image: nats:2.10
    command: ["--auth", "bus-token-6e2b0"]
""",
    # TLS only (`--port 0`), a self-signed certificate, no client certificates asked
    "cache_tls": """\
    image: redis:7
    command: >-
      redis-server --port 0 --tls-port 6379 --tls-cert-file /certs/cert.pem
      --tls-key-file /certs/key.pem --tls-ca-cert-file /certs/cert.pem --tls-auth-clients no
      --requirepass tls-pass-3b7d1
    volumes: ["./certs:/certs:ro"]
""",
    # TLS required (its INFO says so), user and password
    "bus_tls": """\
    image: nats:2.10
    command: ["--tls", "--tlscert", "/certs/cert.pem", "--tlskey", "/certs/key.pem", "--user", "bus",
              "--pass", "tls-pass-0e5a8"]
    volumes: ["./certs:/certs:ro"]
""",
}
PORTS = {"cache": 6379, "bus": 4222}

SERVICES = {
    "cache_req": 'kind = "redis"\npassword = "req-pass-7f3a9"',
    "cache_cmd": 'kind = "redis"',
    "cache_acl": 'kind = "redis"\nuser = "alice"\npassword = "alice-pass-9d04"',
    "bus_user": 'kind = "nats"\njetstream = true',
    "bus_tok": 'kind = "nats"\ntoken = "bus-token-6e2b0"',
}

TEST_FILE = """\
import os

def test_the_stack_is_reachable():
    assert os.environ.get("CACHE_REQ_PORT", "0").isdigit()
"""


def _project(root: Path, services: dict[str, str]) -> Path:
    root.mkdir()
    compose = "services:\n" + "".join(
        f'  {name}:\n{COMPOSE[name]}    ports: ["127.0.0.1::{PORTS[name.split("_")[0]]}"]\n'
        for name in services
    )
    (root / "docker-compose.yml").write_text(compose)
    tables = "\n".join(
        f"[services.{name}]\n{body}\ntimeout = {READY_TIMEOUT}\n" for name, body in services.items()
    )
    (root / "ci-toolkit.toml").write_text(
        'compose_files = ["docker-compose.yml"]\nartifacts_dir = "ci-artifacts"\n'
        + tables
        + ('[export]\nCACHE_REQ_PORT = "{cache_req.port:6379}"\n' if "cache_req" in services else "")
        + '[pytest]\npaths = ["tests"]\nargs = ["-q", "-p", "no:cacheprovider"]\n'
        + f"[timeouts]\nready = {READY_TIMEOUT}\n"
    )
    (root / "tests").mkdir()
    (root / "tests" / "test_stack.py").write_text(TEST_FILE)
    return root


def _assert_never_shown(root: Path, output: str, *more: str) -> None:
    written = "".join(
        p.read_text(errors="replace") for p in (root / "ci-artifacts").rglob("*") if p.is_file()
    )
    for password in (*PASSWORDS, *more):
        assert password not in output, password
        assert password not in written, password


def test_protected_redis_and_nats_are_ready(tmp_path: Path) -> None:
    root = _project(tmp_path / "proj", SERVICES)
    project = f"prot-{secrets.token_hex(4)}"
    result = run_cli(["integration-run", "--json", "--project", project], root)
    assert_no_leaks(project)
    data = result.json()
    assert (result.returncode, data["status"]) == (0, "passed"), result.output
    assert {name: s["ready_seconds"] is not None for name, s in data["services"].items()} == dict.fromkeys(
        SERVICES, True
    )
    _assert_never_shown(root, result.output)


def test_services_that_publish_tls_are_probed_over_tls(tmp_path: Path) -> None:
    """Redis with `tls = true` (TLS from the first byte), NATS because its INFO requires TLS;
    self-signed certificates, the passwords from the compose file."""
    root = _project(
        tmp_path / "proj", {"cache_tls": 'kind = "redis"\ntls = true', "bus_tls": 'kind = "nats"'}
    )
    certs = root / "certs"
    certs.mkdir()
    self_signed = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
    subprocess.run(
        ["openssl", *self_signed, "-keyout", str(certs / "key.pem"), "-out", str(certs / "cert.pem")],
        check=True,
        capture_output=True,
    )
    (certs / "key.pem").chmod(0o644)  # read by the servers' own users inside the containers
    project = f"prottls-{secrets.token_hex(4)}"
    result = run_cli(["integration-run", "--json", "--project", project], root)
    assert_no_leaks(project)
    data = result.json()
    assert (result.returncode, data["status"]) == (0, "passed"), result.output
    assert sorted(data["services"]) == ["bus_tls", "cache_tls"]
    _assert_never_shown(root, result.output)


REFUSED = [
    # (service, its table with a wrong or missing credential, what the message says)
    (
        "cache_req",
        'kind = "redis"\npassword = "not-the-password"',
        "(WRONGPASS): check services.cache_req.password",
    ),
    ("cache_acl", 'kind = "redis"', "(NOAUTH): check services.cache_acl.password"),
    (
        "cache_acl",
        'kind = "redis"\nuser = "alice"\npassword = "not-the-password"',
        "(WRONGPASS): check services.cache_acl.user and services.cache_acl.password",
    ),
    ("bus_user", 'kind = "nats"\nuser = "bus"\npassword = "not-the-password"', "(Authorization Violation)"),
    ("bus_tok", 'kind = "nats"\ntoken = "not-the-password"', "(Authorization Violation)"),
]


@pytest.mark.parametrize(
    ("service", "table", "says"), REFUSED, ids=[f"{s}-{i}" for i, (s, _, _) in enumerate(REFUSED)]
)
def test_a_refused_credential_fails_the_run_at_once(
    tmp_path: Path, service: str, table: str, says: str
) -> None:
    root = _project(tmp_path / "proj", {service: table})
    project = f"protbad-{secrets.token_hex(4)}"
    started = time.monotonic()
    result = run_cli(["integration-run", "--json", "--project", project], root)
    took = time.monotonic() - started
    assert_no_leaks(project)
    data = result.json()
    assert (result.returncode, data["status"]) == (4, "infra_error"), result.output
    assert f"{service}: authentication failed {says}" in data["message"], data["message"]
    assert "not ready after" not in data["message"]
    assert took < FAST, f"{took:.1f}s: the wait was not ended by the refusal\n{result.output}"
    _assert_never_shown(root, result.output, "not-the-password")


def test_a_lease_of_protected_services_is_reused_and_reset_with_their_credentials(tmp_path: Path) -> None:
    """`--reuse`: the warm probe round, the baseline and the reset (Redis FLUSHALL, the JetStream
    survey) all log in; without credentials the lease would be replaced on every run."""
    root = _project(tmp_path / "proj", {"cache_cmd": SERVICES["cache_cmd"], "bus_user": SERVICES["bus_user"]})
    try:
        first = run_cli(["integration-run", "--reuse", "--json"], root)
        assert (first.returncode, first.json()["reuse"]["kept"]) == (0, True), first.output
        second = run_cli(["integration-run", "--reuse", "--json"], root)
        data = second.json()
        assert (second.returncode, data["reuse"]["warm"]) == (0, True), second.output
        reset = next(p for p in data["phases"] if p["name"] == "reset")
        assert reset["status"] == "ok" and "reset" in reset["detail"], reset
        assert "cache_cmd: FLUSHALL" in second.stderr and "bus_user: JetStream" in second.stderr, (
            second.stderr
        )
        _assert_never_shown(root, first.output + second.output)
    finally:
        down = run_cli(["stack", "down", "--lease"], root)
        assert down.returncode == 0, down.output
