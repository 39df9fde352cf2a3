"""Which interpreter runs the tests (pipeline.runner): the config's choice, then what lies beside it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from ci_toolkit.config import PytestConfig
from ci_toolkit.errors import ConfigError, TestRunnerError
from ci_toolkit.pipeline import pytest_run, runner


def _venv(root: Path) -> Path:
    python = root / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)  # another environment's python, as a venv makes it
    return python


def _project(tmp_path: Path, *files: str) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.ci-toolkit]\n")
    for name in files:
        (tmp_path / name).write_text("")
    return tmp_path


def _tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Fake uv/poetry/hatch on PATH: only their presence is looked at."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    for name in names:
        tool = bin_dir / name
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_a_venv_beside_the_config_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path, "uv.lock", "poetry.lock")
    _tools(tmp_path, monkeypatch, "uv", "poetry")
    python = _venv(root)
    found = runner.resolve(PytestConfig(), root)
    assert found.prefix == (str(python),) and not found.own and not found.forkable
    assert found.line == "    pytest runs with .venv/bin/python (found beside pyproject.toml)"
    assert found.plugins == ("ci_toolkit_pytest_plugin", "ci_toolkit_pytest_shard")


def test_uv_lock_then_poetry_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path, "uv.lock", "poetry.lock")
    _tools(tmp_path, monkeypatch, "uv", "poetry")
    found = runner.resolve(PytestConfig(), root)
    assert found.prefix == ("uv", "run", "--project", str(root), "python")
    assert found.line == "    pytest runs with uv run (uv.lock found beside pyproject.toml)"
    (root / "uv.lock").unlink()
    assert runner.resolve(PytestConfig(), root).prefix == ("poetry", "run", "python")


def test_nothing_beside_the_config_is_our_own_interpreter(tmp_path: Path) -> None:
    found = runner.resolve(PytestConfig(), _project(tmp_path))
    assert found.prefix == (sys.executable,) and found.own and found.forkable
    assert found.plugins == ("ci_toolkit.pytest_plugin", "ci_toolkit.pytest_shard")
    assert "no .venv, uv.lock or poetry.lock found beside pyproject.toml" in found.line


def test_the_config_wins_over_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path, "uv.lock")
    _tools(tmp_path, monkeypatch, "uv", "hatch")
    _venv(root)
    hatch = runner.resolve(PytestConfig(runner="hatch run", python="/usr/bin/python3"), root)
    assert hatch.prefix == ("hatch", "run", "python") and hatch.line.endswith("(pytest.runner)")
    legacy = runner.resolve(PytestConfig(python=sys.executable), root)
    assert legacy.own and legacy.line.endswith("(pytest.python)")
    own_options = runner.resolve(PytestConfig(runner="uv run --frozen --project sub"), root)
    assert own_options.prefix == ("uv", "run", "--frozen", "--project", "sub", "python")


def test_python_args_go_right_after_the_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tools(tmp_path, monkeypatch, "uv")
    cfg = PytestConfig(runner="uv run", python_args=("-X", "dev", "-bb"), paths=("t",))
    cmd = pytest_run.build_command(cfg, tmp_path, root=_project(tmp_path))
    assert cmd[:11] == [
        "uv",
        "run",
        "--project",
        str(tmp_path),
        "python",
        "-X",
        "dev",
        "-bb",
        "-m",
        "pytest",
        "t",
    ]
    own = runner.resolve(PytestConfig(python_args=("-W", "error")), tmp_path)
    assert own.own and not own.forkable  # a zygote cannot take interpreter flags


def test_a_missing_tool_names_the_key_and_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ConfigError) as named:
        runner.resolve(PytestConfig(runner="uv run"), tmp_path)
    assert "`uv run` (pytest.runner), and uv is not on PATH" in str(named.value)
    assert "install uv (`pipx install uv`" in str(named.value)
    with pytest.raises(ConfigError) as detected:
        runner.resolve(PytestConfig(), _project(tmp_path, "poetry.lock"))
    assert "(poetry.lock found beside pyproject.toml), and poetry is not on PATH" in str(detected.value)
    assert "or set pytest.runner to another runner" in str(detected.value)
    with pytest.raises(ConfigError, match=r"pytest\.runner = 'make test': not a runner"):
        runner.resolve(PytestConfig(runner="make test"), tmp_path)
    with pytest.raises(ConfigError, match=r"pytest\.python = 'nope/python': no such python"):
        runner.resolve(PytestConfig(python="nope/python"), tmp_path)


def test_another_interpreter_gets_our_plugins_by_file(tmp_path: Path) -> None:
    python = _venv(tmp_path)  # our interpreter behind another environment's name
    found = runner.resolve(PytestConfig(), tmp_path)
    assert found.prefix == (str(python),)
    prepared = pytest_run.prepare(
        PytestConfig(paths=("t",)), {"PYTHONPATH": "/theirs"}, tmp_path / "run", root=tmp_path
    )
    plugins = tmp_path / "run" / runner.PLUGIN_DIR
    assert prepared.env["PYTHONPATH"] == f"{plugins}{os.pathsep}/theirs"
    assert (plugins / "ci_toolkit_pytest_plugin.py").read_text() == Path(
        runner.__file__
    ).parent.parent.joinpath("pytest_plugin.py").read_text()
    assert [w for i, w in enumerate(prepared.command) if w == "-p" or prepared.command[i - 1] == "-p"][
        -4:
    ] == ["-p", "ci_toolkit_pytest_plugin", "-p", "ci_toolkit_pytest_shard"]


def test_pytest_missing_where_the_tests_run_is_a_clear_error(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    fake = bare / "python"
    fake.write_text("#!/bin/sh\necho ci-toolkit-probe False False\n")
    fake.chmod(0o755)
    with pytest.raises(TestRunnerError) as missing:
        pytest_run.prepare(PytestConfig(python=str(fake)), {}, tmp_path / "run", root=tmp_path)
    assert f"pytest is not installed where the tests run: {fake} (pytest.python)" in str(missing.value)
    assert f"`{fake} -m pip install pytest`" in str(missing.value)
