"""The CLI habits of the tools users already know: --version/-V, -h, shell completion, the
config found from a subdirectory (and CI_TOOLKIT_CONFIG), -v, and --json on every command.

Run as a user runs it: `python -m ci_toolkit` in a subprocess (no docker: commands that need
the engine are in tests/integration/test_cli_verbose.py).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from ci_toolkit import __version__, command_log, config, proc
from ci_toolkit.cli import app
from ci_toolkit.errors import ConfigError, ExitCode
from ci_toolkit.redact import REDACTOR
from tests.conftest import CliResult, run_cli


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> CliResult:
    base = {"CI_TOOLKIT_CONFIG": ""}  # the developer's own setting must not leak into a test
    return run_cli(list(args), cwd, {**base, **(env or {})}, timeout=60)


# -- --version, -V, -h ---------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_flag_prints_name_and_version(tmp_path: Path, flag: str) -> None:
    result = cli(flag, cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"ci-toolkit {__version__}\n", "")


def test_version_command_stays_and_has_json(tmp_path: Path) -> None:
    assert cli("version", cwd=tmp_path).stdout == f"{__version__}\n"
    assert cli("version", "--json", cwd=tmp_path).json() == {"version": __version__}


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        (["-h"], "Usage: ci-toolkit [OPTIONS] COMMAND [ARGS]..."),
        (["stack", "-h"], "Usage: ci-toolkit stack [OPTIONS] COMMAND [ARGS]..."),
        (["stack", "up", "-h"], "Usage: ci-toolkit stack up [OPTIONS]"),
        (["env", "check", "-h"], "Usage: ci-toolkit env check [OPTIONS]"),
    ],
)
def test_h_is_help_everywhere(tmp_path: Path, args: list[str], usage: str) -> None:
    short, long = cli(*args, cwd=tmp_path), cli(*args[:-1], "--help", cwd=tmp_path)
    assert short.returncode == 0, short.output
    assert short.stdout.startswith(usage)
    assert short.stdout == long.stdout
    assert "-h, --help" in short.stdout


def _leaf_commands() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []

    def walk(cmd: Any, path: str) -> None:
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, f"{path} {name}".strip())
        if not hasattr(cmd, "commands"):
            found.append((path, cmd))

    walk(typer.main.get_command(app), "")
    return found


def test_every_command_takes_json_and_verbose() -> None:
    """One declaration each (cli/options.py, applied by the boundary), on every command."""
    commands = _leaf_commands()
    assert len(commands) >= 20
    for path, cmd in commands:
        names = {n for p in cmd.params for n in (*p.opts, *p.secondary_opts)}
        missing = {"--json", "-v", "--verbose"} - names
        assert not missing, f"`ci-toolkit {path}` lacks {sorted(missing)}"


# -- shell completion --------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_completion_installs_into_home_and_completes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "SHELL": "/bin/bash", "CI_TOOLKIT_CONFIG": ""}
    bin_dir = Path(sys.executable).parent
    # Installed from a bash, as a user does (`; exit` keeps bash from exec-ing python away:
    # typer finds the shell among the parent processes).
    installer = f"{sys.executable} -m ci_toolkit --install-completion; exit $?"
    done = _bash(installer, tmp_path, env)
    assert done.returncode == 0, done.output
    script = home / ".bash_completions" / "ci-toolkit.sh"
    assert f"bash completion installed in {script}" in done.stdout
    text = script.read_text()
    assert "complete -o default -F _ci_toolkit_completion ci-toolkit" in text
    assert "_CI_TOOLKIT_COMPLETE=complete_bash" in text
    assert f"source '{script}'" in (home / ".bashrc").read_text().splitlines()

    # The installed function, sourced as ~/.bashrc does, completes the real command.
    if not (bin_dir / "ci-toolkit").is_file():
        pytest.skip("the ci-toolkit console script is not installed beside this python")
    complete = (
        f"source {script}; COMP_WORDS=(ci-toolkit stack ''); COMP_CWORD=2; "
        "_ci_toolkit_completion ci-toolkit; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    words = _bash(complete, tmp_path, {**env, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert {"up", "wait", "ps", "logs", "down", "prune", "leases"} <= set(words.stdout.split()), words.output


def test_show_completion_prints_the_script(tmp_path: Path) -> None:
    shown = _bash(
        f"{sys.executable} -m ci_toolkit --show-completion; exit $?", tmp_path, {"SHELL": "/bin/bash"}
    )
    assert shown.returncode == 0, shown.output
    assert "complete -o default -F _ci_toolkit_completion ci-toolkit" in shown.stdout


def _bash(script: str, cwd: Path, env: dict[str, str]) -> CliResult:
    import subprocess

    done = subprocess.run(
        ["bash", "--norc", "-c", script],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


# -- config discovery --------------------------------------------------------------------------


def _repo(tmp_path: Path) -> Path:
    """A repository whose root has a config that needs ROOT_VAR (env check names it)."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "ci-toolkit.toml").write_text('[env]\nrequired = ["ROOT_VAR"]\n')
    (repo / "src" / "pkg" / "deep").mkdir(parents=True)
    return repo


def test_env_check_works_from_a_subdirectory(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    result = cli("env", "check", cwd=repo / "src" / "pkg" / "deep", env={"ROOT_VAR": "x"})
    assert result.returncode == 0, result.output
    assert "ROOT_VAR: set" in result.stdout and "environment: ok" in result.stdout


def test_the_nearest_config_wins_and_a_foreign_pyproject_is_skipped(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    pkg = repo / "src" / "pkg"
    (pkg / "pyproject.toml").write_text('[tool.ci-toolkit.env]\nrequired = ["PKG_VAR"]\n')
    (pkg / "deep" / "pyproject.toml").write_text('[project]\nname = "deep"\n')  # not ours: skipped
    result = cli("env", "check", "--json", cwd=pkg / "deep", env={"PKG_VAR": "x"})
    assert result.returncode == 0, result.output
    assert result.json()["required"] == ["PKG_VAR"]


def test_ci_toolkit_config_wins_over_discovery_and_config_over_it(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    other = tmp_path / "elsewhere.toml"
    other.write_text('[env]\nrequired = ["OTHER_VAR"]\n')
    env = {"CI_TOOLKIT_CONFIG": str(other), "OTHER_VAR": "x", "ROOT_VAR": "x"}
    assert cli("env", "check", "--json", cwd=repo, env=env).json()["required"] == ["OTHER_VAR"]
    explicit = cli("env", "check", "--json", "--config", "ci-toolkit.toml", cwd=repo, env=env)
    assert explicit.json()["required"] == ["ROOT_VAR"]


def test_ci_toolkit_config_naming_no_file_says_so(tmp_path: Path) -> None:
    result = cli("env", "check", cwd=_repo(tmp_path), env={"CI_TOOLKIT_CONFIG": "missing.toml"})
    assert result.returncode == ExitCode.CONFIG
    assert "CI_TOOLKIT_CONFIG=missing.toml: that config file does not exist" in result.stderr
    assert "unset CI_TOOLKIT_CONFIG" in result.stderr


def test_not_found_names_every_directory_searched_and_what_to_create(tmp_path: Path) -> None:
    (tmp_path / "ci-toolkit.toml").write_text("")  # above the repository root: never used
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "pyproject.toml").write_text('[project]\nname = "app"\n')
    deep = repo / "a" / "b"
    deep.mkdir(parents=True)
    result = cli("env", "check", cwd=deep)
    assert result.returncode == ExitCode.CONFIG, result.output
    err = result.stderr
    assert f"no ci-toolkit config found in {deep} or its parents (up to the repository root {repo})" in err
    lines = [line.strip() for line in err.splitlines()]
    start = lines.index(next(line for line in lines if line.startswith(str(deep))))
    assert lines[start : start + 3] == [
        str(deep),
        str(repo / "a"),
        f"{repo}  ({repo / 'pyproject.toml'} has no [tool.ci-toolkit] table)",
    ]
    assert (
        f"create {repo / 'ci-toolkit.toml'} or add a [tool.ci-toolkit] table to {repo / 'pyproject.toml'}"
        in err
    )
    assert "--config PATH or set CI_TOOLKIT_CONFIG" in err


def test_paths_stay_relative_to_the_config_found_above(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI_TOOLKIT_CONFIG", raising=False)
    repo = _repo(tmp_path)
    (repo / "ci-toolkit.toml").write_text('compose_files = ["ops/compose.yml"]\nartifacts_dir = "out"\n')
    cfg = config.load(repo / "src" / "pkg")
    assert cfg.source == repo / "ci-toolkit.toml"
    assert cfg.compose_files == (repo / "ops" / "compose.yml",)
    assert cfg.artifacts_dir == repo / "out"


def test_a_broken_pyproject_on_the_way_is_an_error_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI_TOOLKIT_CONFIG", raising=False)
    repo = _repo(tmp_path)
    (repo / "src" / "pyproject.toml").write_text("[tool\n")
    with pytest.raises(ConfigError, match=r"pyproject\.toml: not valid TOML"):
        config.load(repo / "src" / "pkg")


# -- -v / --verbose ----------------------------------------------------------------------------


@pytest.fixture
def verbose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(command_log, "_verbose", True)


TIMED = r"\((\d+\.\d\d)s, (exit \d+|killed)\)"


def test_verbose_prints_each_command_with_its_time_and_exit(
    verbose: None, capfd: pytest.CaptureFixture[str]
) -> None:
    proc.run([sys.executable, "-c", "pass"])
    proc.run([sys.executable, "-c", "raise SystemExit(3)"], check=False)
    err = capfd.readouterr().err.splitlines()
    assert re.fullmatch(rf"\$ {re.escape(sys.executable)} -c pass  {TIMED}", err[0])
    assert err[0].endswith(", exit 0)")
    assert err[1].startswith(f"$ {sys.executable} -c 'raise SystemExit(3)'  (") and err[1].endswith(
        ", exit 3)"
    )


def test_verbose_says_killed_for_a_timed_out_command(
    verbose: None, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(Exception, match=r"timed out|timeout"):
        proc.run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.3)
    assert re.search(r"time.sleep\(30\)'  \(0\.\d\ds, killed\)$", capfd.readouterr().err.strip())


def test_verbose_masks_a_secret_in_an_argv(verbose: None, capfd: pytest.CaptureFixture[str]) -> None:
    secret = "vErb0se-s3cret-VALUE"
    REDACTOR.add(secret)
    proc.run([sys.executable, "-c", "pass", f"--token={secret}", "postgresql://app:hunter2-pw@db/app"])
    err = capfd.readouterr().err
    assert secret not in err and "hunter2-pw" not in err
    assert "--token=***" in err and "postgresql://app:***@db/app" in err


def test_verbose_is_off_by_default_and_on_with_the_variable(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(command_log.VERBOSE_ENV, raising=False)
    proc.run([sys.executable, "-c", "pass"])
    assert capfd.readouterr().err == ""
    monkeypatch.setenv(command_log.VERBOSE_ENV, "1")
    proc.run([sys.executable, "-c", "pass"])
    assert capfd.readouterr().err.startswith(f"$ {sys.executable} -c pass  (")


# -- --json on the commands that had none (those needing no engine) ---------------------------


def test_snapshot_load_json_on_a_cache_miss(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = cli("snapshot", "load", str(tmp_path / "empty"), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.output
    assert result.json() == {
        "directory": str(tmp_path / "empty"),
        "loaded": False,
        "key": None,
        "reason": "no snapshot in the directory (a cache miss)",
    }
    assert "a cache miss" in result.stderr  # progress goes to stderr


def test_matrix_and_shard_plan_take_json_and_stay_one_line(tmp_path: Path) -> None:
    (tmp_path / "ci-toolkit.toml").write_text('[matrix]\nPG = ["15", "17"]\n')
    matrix = cli("matrix", "--json", "--pretty", cwd=tmp_path)
    assert [cell["PG"] for cell in matrix.json()["include"]] == ["15", "17"]
    plan = cli("shard", "plan", "-n", "2", "--json", cwd=tmp_path)
    assert len(plan.json()["include"]) == 4, plan.output
    assert json.loads(plan.stdout) == plan.json()
