"""Tests that run in the project's own environment (pipeline.runner): ci-toolkit installed as a
tool (`uv tool install`), the project's tests importing a library only their environment has.
The detected `.venv`, `runner = "uv run"` on a uv project, and a target without pytest-cov."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, CliResult, assert_no_leaks, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

DEPENDENCY = "tomli_w"  # pure python, on the index, and not one of ci-toolkit's dependencies (tomlkit is now)
COMPOSE = """\
services:
  redis:
    image: redis:7
    ports: ["127.0.0.1::6379"]
"""
CONFIG = """\
compose_files = ["docker-compose.test.yml"]
artifacts_dir = "ci-artifacts"

[services.redis]
kind = "redis"
port = 6379

[export]
REDIS_URL = "redis://{{redis.host}}:{{redis.port:6379}}/0"

[pytest]
paths = ["tests"]
# An unregistered marker is an error: the markers below must reach the project's pytest.
args = ["-q", "-p", "no:cacheprovider", "-W", "error::pytest.PytestUnknownMarkWarning"]
markers = ["smoke: the quick ones"]
coverage_source = ["app"]
{extra}
"""
APP = "import tomli_w\n\n\ndef render(key: str, value: int) -> str:\n    return tomli_w.dumps({key: value})\n"
TEST = """\
import os
import socket
from urllib.parse import urlsplit

import pytest

from app import render


@pytest.mark.smoke
def test_uses_its_own_dependency_and_the_stack():
    assert render("a", 1) == "a = 1\\n"
    url = urlsplit(os.environ["REDIS_URL"])
    with socket.create_connection((url.hostname, url.port), timeout=5) as conn:
        conn.sendall(b"PING\\r\\n")
        assert conn.recv(16).startswith(b"+PONG")
"""


def _uv() -> str:
    found = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("these tests need uv (`pip install uv` into the dev environment)")
    return found


def _uv_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "CI_TOOLKIT_CONFIG")}
    if "UV_EXTRA_INDEX_URL" not in env and Path("/opt/pypi/simple").is_dir():
        # this sandbox's local index first, PyPI (uv's default) for what it lacks, as pip is set up here
        env["UV_EXTRA_INDEX_URL"] = "file:///opt/pypi/simple"
    path = os.pathsep.join([str(Path(_uv()).parent), str(tmp / "bin"), env.get("PATH", "")])
    return {**env, "PATH": path, "UV_TOOL_DIR": str(tmp / "tools"), "UV_TOOL_BIN_DIR": str(tmp / "bin")}


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> CliResult:
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def tool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """ci-toolkit as `uv tool install` leaves it: its own environment, without the project's
    libraries. Built from a copy of this checkout (the checkout's build/ is not touched)."""
    tmp = tmp_path_factory.mktemp("tool")
    source = tmp / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "ci_toolkit", source / "ci_toolkit", ignore=shutil.ignore_patterns("__pycache__"))
    env = _uv_env(tmp)
    python = os.path.realpath(sys.executable)
    done = _run(
        [_uv(), "tool", "install", "-q", "--python", python, "--from", str(source), "ci-toolkit"], tmp, env
    )
    assert done.returncode == 0, done.output
    site = next((tmp / "tools" / "ci-toolkit").glob("lib/python*/site-packages"))
    assert not (site / DEPENDENCY).exists(), f"{DEPENDENCY} is in ci-toolkit's own environment"
    yield tmp / "bin" / "ci-toolkit", {**env, "CI": "true"}


def _project(root: Path, config: str, extra: str = "") -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text(APP)
    (root / "tests").mkdir()
    (root / "tests" / "test_app.py").write_text(TEST)
    (root / "docker-compose.test.yml").write_text(COMPOSE)
    (root / config).write_text(CONFIG.format(extra=extra))
    return root


def _venv(root: Path, env: dict[str, str], *packages: str) -> None:
    for cmd in (
        ["venv", "-q", "--python", os.path.realpath(sys.executable)],
        ["pip", "install", "-q", *packages],
    ):
        done = _run([_uv(), *cmd, *(["--python", ".venv/bin/python"] if cmd[0] == "pip" else [])], root, env)
        assert done.returncode == 0, done.output


def _integration_run(tool: tuple[Path, dict[str, str]], root: Path) -> tuple[CliResult, dict, str]:  # type: ignore[type-arg]
    binary, env = tool
    project = f"runner-{secrets.token_hex(4)}"
    try:
        result = _run(
            [str(binary), "integration-run", "--json", "--project", project], root, env, timeout=300
        )
    finally:
        assert_no_leaks(project)
    data = result.json()
    log = (Path(data["artifacts_dir"]) / "pytest.log").read_text()
    return result, data, log


def test_detected_venv_runs_the_tests_with_markers_and_coverage(
    tool: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root = _project(tmp_path / "proj", "ci-toolkit.toml")
    _venv(root, tool[1], "pytest", "pytest-cov", DEPENDENCY)
    result, data, log = _integration_run(tool, root)
    assert result.returncode == 0, result.output + log
    assert "pytest runs with .venv/bin/python (found beside ci-toolkit.toml)" in result.stderr
    assert data["status"] == "passed" and data["tests"]["passed"] == 1
    assert data["coverage_percent"] == 100.0
    assert "PytestUnknownMarkWarning" not in log and "1 passed" in log


def test_uv_run_on_a_uv_project(tool: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    root = _project(tmp_path / "proj", "pyproject.toml")
    pyproject = (
        '[project]\nname = "fixture-app"\nversion = "0"\nrequires-python = ">=3.11"\n'
        f'dependencies = ["{DEPENDENCY}"]\n\n[dependency-groups]\ndev = ["pytest", "pytest-cov"]\n\n'
    )
    table = (root / "pyproject.toml").read_text().replace("[services.", "[tool.ci-toolkit.services.")
    table = table.replace("[export]", "[tool.ci-toolkit.export]").replace(
        "[pytest]", "[tool.ci-toolkit.pytest]"
    )
    (root / "pyproject.toml").write_text(pyproject + "[tool.ci-toolkit]\n" + table + 'runner = "uv run"\n')
    locked = _run([_uv(), "lock", "-q", "--python", os.path.realpath(sys.executable)], root, tool[1])
    assert locked.returncode == 0, locked.output
    result, data, log = _integration_run(tool, root)
    assert result.returncode == 0, result.output + log
    assert "pytest runs with uv run (pytest.runner)" in result.stderr
    assert data["status"] == "passed" and data["coverage_percent"] == 100.0
    assert "PytestUnknownMarkWarning" not in log


def test_without_pytest_cov_the_run_passes_and_says_how_to_add_it(
    tool: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root = _project(tmp_path / "proj", "ci-toolkit.toml")
    _venv(root, tool[1], "pytest", DEPENDENCY)
    result, data, log = _integration_run(tool, root)
    assert result.returncode == 0, result.output + log
    python = root / ".venv" / "bin" / "python"
    assert (
        "coverage not measured: pytest-cov is not installed where the tests run (.venv/bin/python); "
        f"add it there with `{python} -m pip install pytest-cov` or "
        f"`uv pip install --python {python} pytest-cov`"
    ) in result.stderr
    assert data["status"] == "passed" and data["coverage_percent"] is None
    assert json.loads((Path(data["artifacts_dir"]) / "run.json").read_text())["status"] == "passed"


def test_a_runner_whose_tool_is_missing_fails_before_anything_starts(example_project: Path) -> None:
    cfg = example_project / "ci-toolkit.toml"
    cfg.write_text(cfg.read_text().replace("[pytest]\n", '[pytest]\nrunner = "hatch run"\n'))
    project = f"rn-{secrets.token_hex(4)}"
    result = run_cli(["integration-run", "--project", project], cwd=example_project)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "hatch is not on PATH" in result.stdout
    assert "==> up" not in result.stdout + result.stderr  # nothing started
    assert_no_leaks(project)
