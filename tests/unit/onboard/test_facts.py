"""What init reads from a repository before deciding anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_toolkit.errors import ConfigError
from ci_toolkit.onboard import facts


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")


def test_compose_files_a_test_file_alone_else_the_default_and_its_override(tmp_path: Path) -> None:
    _touch(tmp_path, "docker-compose.yml", "docker-compose.override.yml")
    assert facts.read(tmp_path).compose_files == ("docker-compose.yml", "docker-compose.override.yml")
    _touch(tmp_path, "compose.yaml")
    assert facts.read(tmp_path).compose_files == ("compose.yaml",)  # compose's own order
    _touch(tmp_path, "docker-compose.test.yml")
    assert facts.read(tmp_path).compose_files == ("docker-compose.test.yml",)


def test_generated_compose_is_recognised_by_its_header(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.test.yml").write_text(
        "# Written by `ci-toolkit init` --with redis\nservices: {}\n"
    )
    assert facts.read(tmp_path).generated_compose
    (tmp_path / "docker-compose.test.yml").write_text("services: {}\n")
    assert not facts.read(tmp_path).generated_compose


def test_migrations_ours_or_another_tools(tmp_path: Path) -> None:
    _touch(tmp_path, "db/migrations/001_init.sql")
    assert (facts.read(tmp_path).migrations_dir, facts.read(tmp_path).other_migrations) == (
        "db/migrations",
        None,
    )
    _touch(tmp_path, "migrations/env.py", "migrations/versions/abc_init.py")
    assert (facts.read(tmp_path).migrations_dir, facts.read(tmp_path).other_migrations) == (
        None,
        "migrations",
    )


def test_test_paths_integration_dir_else_pytest_testpaths_else_tests(tmp_path: Path) -> None:
    _touch(tmp_path, "tests/test_a.py", "checks/test_b.py")
    assert facts.read(tmp_path).test_paths == ("tests",)
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["checks", "gone"]\n')
    assert facts.read(tmp_path).test_paths == ("checks",)
    _touch(tmp_path, "tests/integration/test_c.py")
    assert facts.read(tmp_path).test_paths == ("tests/integration",)


@pytest.mark.parametrize(
    ("files", "pyproject", "install"),
    [
        (("uv.lock",), "[project]\nname='x'\n", "pip install uv && uv sync --frozen"),
        (("poetry.lock",), "[tool.poetry]\n", "pip install poetry && poetry install --no-interaction"),
        (("requirements-test.txt", "requirements.txt"), None, "pip install -r requirements-test.txt"),
        (
            (),
            "[project]\nname='x'\n[project.optional-dependencies]\ntests=['pytest']\n",
            "pip install -e '.[tests]'",
        ),
        ((), "[project]\nname='x'\n", "pip install -e ."),
        ((), None, ""),
    ],
)
def test_how_ci_installs_the_test_dependencies(
    tmp_path: Path, files: tuple[str, ...], pyproject: str | None, install: str
) -> None:
    _touch(tmp_path, *files)
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    assert facts.read(tmp_path).install == install


def test_sources_and_what_the_workflow_watches(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "my-shop"\n')
    _touch(tmp_path, "src/my_shop/__init__.py", "tests/test_a.py", "migrations/001_a.sql", "compose.yaml")
    got = facts.read(tmp_path)
    assert got.coverage_source == ("src/my_shop",)
    assert got.watched == ("compose.yaml", "migrations/**", "tests/**", "src/my_shop/**", "pyproject.toml")


def test_an_invalid_pyproject_is_named(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml: not valid TOML"):
        facts.read(tmp_path)


def test_the_default_branch_from_the_clone_else_a_main_like_checkout(tmp_path: Path) -> None:
    git = tmp_path / ".git"
    (git / "refs" / "remotes" / "origin").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/feature/x\n")
    assert facts.read(tmp_path).default_branch == "main"  # a feature branch is not the default
    (git / "HEAD").write_text("ref: refs/heads/master\n")
    assert facts.read(tmp_path).default_branch == "master"
    (git / "refs" / "remotes" / "origin" / "HEAD").write_text("ref: refs/remotes/origin/trunk\n")
    assert facts.read(tmp_path).default_branch == "trunk"
