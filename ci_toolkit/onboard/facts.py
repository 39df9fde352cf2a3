"""What a repository already has, read once: compose files, pyproject, tests, migrations, how its
test dependencies are installed. Nothing here runs a process or writes a file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.config import discovery
from ci_toolkit.onboard.model import written_by_init

# Compose's own default names (it reads the first it finds, plus its override file), and the
# names a test stack usually has. A test file is what the tests want: used alone when present.
TEST_COMPOSE = (
    "docker-compose.test.yml",
    "docker-compose.test.yaml",
    "compose.test.yaml",
    "compose.test.yml",
)
DEFAULT_COMPOSE = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDES = {
    "compose.yaml": "compose.override.yaml",
    "compose.yml": "compose.override.yml",
    "docker-compose.yaml": "docker-compose.override.yaml",
    "docker-compose.yml": "docker-compose.override.yml",
}
MIGRATION_DIRS = ("migrations", "db/migrations", "sql/migrations", "database/migrations")
TEST_DIRS = ("tests/integration", "tests", "test")
REQUIREMENTS = ("requirements-test.txt", "requirements-dev.txt", "test-requirements.txt", "requirements.txt")
TEST_EXTRAS = ("test", "tests", "testing", "dev")


@dataclass(frozen=True)
class RepoFacts:
    root: Path
    compose_files: tuple[str, ...]  # relative to root, in the order compose reads them
    generated_compose: bool  # the one compose file was written by init (its first line says so)
    pyproject: Mapping[str, Any] | None  # parsed, when pyproject.toml exists
    has_toolkit_toml: bool
    migrations_dir: str | None  # NNN_name.sql files, ci-toolkit's format
    other_migrations: str | None  # a migrations directory in another tool's format (alembic …)
    test_paths: tuple[str, ...]
    coverage_source: tuple[str, ...]
    install: str  # the shell command installing the test dependencies ("" for none)
    watched: tuple[str, ...]  # what the workflow's paths filter lists besides the config
    default_branch: str = "main"  # what pushes to run the tests on


def read(root: Path) -> RepoFacts:
    pyproject = _pyproject(root / "pyproject.toml")
    compose = _compose_files(root)
    migrations, other = _migrations(root)
    tests = _test_paths(root, pyproject)
    sources = _sources(root, pyproject)
    install, install_files = _install(root, pyproject)
    watched = [*compose, *(f"{p}/**" for p in (migrations, *tests, *sources) if p), *install_files]
    return RepoFacts(
        root=root,
        compose_files=compose,
        generated_compose=len(compose) == 1 and written_by_init(_head(root / compose[0])),
        pyproject=pyproject,
        has_toolkit_toml=(root / "ci-toolkit.toml").is_file(),
        migrations_dir=migrations,
        other_migrations=other,
        test_paths=tests,
        coverage_source=sources,
        install=install,
        watched=tuple(dict.fromkeys(watched)),
        default_branch=_default_branch(root / ".git"),
    )


def _pyproject(path: Path) -> Mapping[str, Any] | None:
    return discovery.read_toml(path) if path.is_file() else None


def _compose_files(root: Path) -> tuple[str, ...]:
    for name in TEST_COMPOSE:
        if (root / name).is_file():
            return (name,)
    for name in DEFAULT_COMPOSE:
        if (root / name).is_file():
            override = OVERRIDES[name]
            return (name, override) if (root / override).is_file() else (name,)
    return ()


def _head(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as f:
            return f.readline()
    except OSError:
        return ""


def _migrations(root: Path) -> tuple[str | None, str | None]:
    for name in MIGRATION_DIRS:
        directory = root / name
        if not directory.is_dir():
            continue
        if any(p.suffix == ".sql" and p.name[:1].isdigit() for p in directory.iterdir()):
            return name, None
        return None, name  # alembic (env.py, versions/), django, … : not ours to run
    return None, None


def _test_paths(root: Path, pyproject: Mapping[str, Any] | None) -> tuple[str, ...]:
    if (root / "tests" / "integration").is_dir():
        return ("tests/integration",)
    ini = ((pyproject or {}).get("tool") or {}).get("pytest", {}).get("ini_options", {})
    configured = ini.get("testpaths")
    if isinstance(configured, list) and configured and all(isinstance(p, str) for p in configured):
        return tuple(p for p in configured if (root / p).exists())
    return next(((d,) for d in TEST_DIRS[1:] if (root / d).is_dir()), ())


def _project(pyproject: Mapping[str, Any] | None) -> Mapping[str, Any]:
    project = (pyproject or {}).get("project")
    return project if isinstance(project, Mapping) else {}


def _sources(root: Path, pyproject: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The package the project's tests cover: its [project] name as a directory (src layout too)."""
    name = str(_project(pyproject).get("name", "")).lower().replace("-", "_").replace(".", "_")
    if not name:
        return ()
    for candidate in (name, f"src/{name}"):
        if (root / candidate).is_dir():
            return (candidate,)
    return ()


def _install(root: Path, pyproject: Mapping[str, Any] | None) -> tuple[str, tuple[str, ...]]:
    """How CI installs the tests' dependencies, and the files that decide it (for the paths filter).
    ci-toolkit runs the tests with the same tool (pipeline/runner.py detects uv.lock, poetry.lock)."""
    if (root / "uv.lock").is_file():
        return "pip install uv && uv sync --frozen", ("uv.lock", "pyproject.toml")
    if (root / "poetry.lock").is_file():
        return "pip install poetry && poetry install --no-interaction", ("poetry.lock", "pyproject.toml")
    for name in REQUIREMENTS:
        if (root / name).is_file():
            files = (name, "pyproject.toml") if pyproject is not None else (name,)
            return f"pip install -r {name}", files
    project = _project(pyproject)
    if project:
        extras = project.get("optional-dependencies") or {}
        extra = next((e for e in TEST_EXTRAS if e in extras), None)
        return (f"pip install -e '.[{extra}]'" if extra else "pip install -e ."), ("pyproject.toml",)
    return "", ()


def _default_branch(git: Path) -> str:
    """The remote's default branch as the clone recorded it (origin/HEAD), else a checked-out
    main, master or trunk, else "main" (a feature branch checked out is not the default). Read
    from the files: no git process for a fact this small."""
    remote = _symbolic_ref(git / "refs" / "remotes" / "origin" / "HEAD", "refs/remotes/origin/")
    if remote:
        return remote
    local = _symbolic_ref(git / "HEAD", "refs/heads/")
    return local if local in ("main", "master", "trunk") else "main"


def _symbolic_ref(path: Path, prefix: str) -> str:
    try:
        ref = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return ref.removeprefix(f"ref: {prefix}") if ref.startswith(f"ref: {prefix}") else ""
