"""Bad input: each gives one clear message, its documented exit code, no traceback, and
starts nothing (so there is nothing to leak)."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from tests.faults.conftest import assert_clean_failure, start_run

pytestmark = pytest.mark.usefixtures("engine_available")


def _config(project_dir: Path, old: str, new: str) -> None:
    cfg = project_dir / "ci-toolkit.toml"
    cfg.write_text(cfg.read_text().replace(old, new))


def _never_started(data: dict) -> None:  # type: ignore[type-arg]
    assert "up" not in [p["name"] for p in data["phases"]], data["phases"]


def test_malformed_toml(example_project: Path) -> None:
    _config(example_project, 'artifacts_dir = "ci-artifacts"', 'artifacts_dir = "ci-artifacts')
    run = start_run(example_project)
    code, data, output = run.finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=2,
        status="config_error",
        message="ci-toolkit.toml: not valid TOML",
        project=run.project,
    )
    assert "line 2" in data["message"]


def test_unknown_and_mistyped_keys(example_project: Path) -> None:
    _config(example_project, "[timeouts]\nup = 120", '[timeouts]\nup = "soon"\nredy = 3')
    run = start_run(example_project)
    code, data, output = run.finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=2,
        status="config_error",
        message="timeouts.up: expected a number, got a string ('soon')",
        project=run.project,
    )
    assert "timeouts.redy: unknown key (did you mean 'ready'?)" in data["message"]


def test_compose_file_that_does_not_parse(example_project: Path) -> None:
    (example_project / "docker-compose.test.yml").write_text("services:\n  postgres:\n    image: [oops\n")
    run = start_run(example_project)
    code, data, output = run.finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=2,
        status="config_error",
        message="compose rejected",
        project=run.project,
    )
    _never_started(data)


def test_service_named_in_config_but_absent_from_compose(example_project: Path) -> None:
    _config(example_project, "[services.nats]", "[services.natss]")
    run = start_run(example_project)
    code, data, output = run.finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=2,
        status="config_error",
        message="services.natss: no such service",
        project=run.project,
    )
    assert "did you mean 'nats'?" in data["message"]
    _never_started(data)


def test_missing_required_environment(example_project: Path) -> None:
    _config(example_project, "[env]\n", '[env]\nrequired = ["FAULT_TOKEN_A", "FAULT_TOKEN_B"]\n')
    run = start_run(example_project)
    code, data, output = run.finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=3,
        status="env_error",
        message="FAULT_TOKEN_A, FAULT_TOKEN_B",
        project=run.project,
    )
    _never_started(data)


def test_host_port_already_in_use(example_project: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    compose = example_project / "docker-compose.test.yml"
    compose.write_text(compose.read_text().replace('"127.0.0.1::6379"', f'"127.0.0.1:{port}:6379"'))
    try:
        run = start_run(example_project)
        code, data, output = run.finish()
    finally:
        holder.close()
    assert_clean_failure(
        code, data, output, expect_code=4, status="infra_error", message="already in use", project=run.project
    )
    assert "127.0.0.1::PORT" in data["message"]


def test_engine_unreachable(example_project: Path, tmp_path: Path) -> None:
    run = start_run(example_project, env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    code, data, output = run.finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=4,
        status="infra_error",
        message="cannot reach the Docker engine",
        project=None,
    )
    assert "start the Docker engine" in data["message"]
    _never_started(data)


def test_compose_missing(example_project: Path, tmp_path: Path) -> None:
    """A docker CLI without the compose plugin. Removing the real plugin would break every
    other run on this machine, so a stand-in `docker` first on PATH answers exactly as the
    real CLI does when the plugin is absent."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text(
        "#!/bin/sh\necho \"docker: 'compose' is not a docker command.\" >&2\n"
        "echo \"See 'docker --help'\" >&2\nexit 1\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    run = start_run(example_project, env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    code, data, output = run.finish()
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=4,
        status="infra_error",
        message="Docker Compose v2 is not installed",
        project=run.project,
    )
    assert "docker compose version" in data["message"]
    _never_started(data)
