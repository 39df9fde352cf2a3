"""A real `integration-run` with pytest-rerunfailures (`-- --reruns 1`): run.json, the console
summary and the job summary count in pytest's categories and name the test that passed only on
a rerun as flaky."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

COMPOSE = """
services:
  cache:
    image: redis:7
    ports: ["127.0.0.1::6379"]
"""

CONFIG = """
compose_files = ["compose.yaml"]
[services.cache]
kind = "redis"
port = 6379
[export]
REDIS_PORT = "{cache.port:6379}"
[timeouts]
up = 120
ready = 60
down = 60
[pytest]
paths = ["tests"]
args = ["-p", "no:cacheprovider"]
"""

TESTS = """
import os, pathlib, socket, pytest

ATTEMPTS = pathlib.Path(__file__).with_name("attempts")

def test_redis_answers():
    with socket.create_connection(("127.0.0.1", int(os.environ["REDIS_PORT"])), timeout=5) as s:
        s.sendall(b"PING\\r\\n")
        assert s.recv(16).startswith(b"+PONG")

def test_flaky():
    attempt = int(ATTEMPTS.read_text()) if ATTEMPTS.exists() else 0
    ATTEMPTS.write_text(str(attempt + 1))
    assert attempt >= 1, "fails on its first attempt only"

@pytest.mark.xfail(reason="known bug")
def test_known_bug():
    assert False
"""


def test_flaky_test_is_named_in_run_json_and_job_summary(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "ci-toolkit.toml").write_text(CONFIG)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_cache.py").write_text(TESTS)
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs"
    env = {
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_WORKSPACE": str(tmp_path),
    }
    project = f"counts-{secrets.token_hex(4)}"
    art = tmp_path / "art"
    try:
        args = ["integration-run", "--github", "--project", project, "--artifacts-dir", str(art)]
        result = run_cli([*args, "--", "--reruns", "1"], tmp_path, env)
    finally:
        assert_no_leaks(project)
    assert result.returncode == 0, result.output
    said = re.search(r"=+ (.*\d+ passed.*) in [\d.]+s", result.stdout)
    assert said is not None, result.stdout
    assert said.group(1) == "2 passed, 1 xfailed, 1 rerun"  # pytest's own line

    (run_json,) = art.rglob("run.json")
    data = json.loads(run_json.read_text())
    assert data["status"] == "passed"
    assert data["tests"] == {
        "passed": 2, "failed": 0, "errors": 0, "skipped": 0, "xfailed": 1, "xpassed": 0, "rerun": 1,
    }  # fmt: skip
    assert data["flaky_tests"] == ["tests/test_cache.py::test_flaky"]

    assert "tests: 2 passed, 0 failed, 0 errors, 0 skipped, 1 xfailed, 1 rerun" in result.stdout
    assert "FLAKY tests/test_cache.py::test_flaky" in result.stdout
    text = summary.read_text()
    assert "**Tests:** 2 passed, 0 failed, 0 errors, 0 skipped, 1 xfailed, 1 rerun" in text
    flaky = text.split("### Flaky tests", 1)[1].split("###", 1)[0]
    assert "`tests/test_cache.py::test_flaky`" in flaky
    assert "tests-passed=2" in outputs.read_text()
