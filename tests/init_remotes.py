"""Fixture repositories for `init --batch`: real git repositories pushed into bare remotes (local
paths and file:// URLs), some with server-side hooks that refuse or stall a push."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.test_init import DEV_COMPOSE, PYPROJECT

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip


def git(cwd: Path, *args: str) -> str:
    import os

    done = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, check=True,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout


def remote(base: Path, name: str, files: dict[str, str]) -> Path:
    """A bare repository `name.git` under `base` whose main branch holds `files`."""
    work = base / f"{name}-work"
    work.mkdir(parents=True)
    for rel, text in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "initial")
    bare = base / f"{name}.git"
    git(base, "clone", "-q", "--bare", str(work), str(bare))
    return bare


def hook(bare: Path, name: str, script: str) -> None:
    path = bare / "hooks" / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def branch_names(bare: Path) -> list[str]:
    return git(bare, "for-each-ref", "--format=%(refname:short)", "refs/heads").split()


def tree(bare: Path, ref: str) -> list[str]:
    return git(bare, "ls-tree", "-r", "--name-only", ref).split()


TEST = "def test_x() -> None:\n    pass\n"
DEV = {"docker-compose.yml": DEV_COMPOSE, "pyproject.toml": PYPROJECT, "tests/test_x.py": TEST}
BARE = {"tests/test_x.py": TEST}  # no compose file: --with postgres writes one
