"""The `onboard` figures (issue 16): `ci-toolkit init --batch` over REPOS local bare repositories.

Each rep makes REPOS fresh bare repositories (a dev compose file with postgres and redis on
fixed ports, a pyproject.toml, tests, SQL migrations), then, as a user runs it:
- one repository alone, SINGLES times (`init --batch one.txt --push --json`, a new repository each
  time): the wall time of the command, median;
- all REPOS with `--concurrency CONCURRENCY --push --json`: the wall time, and each repository's
  own seconds from the JSON (the worst one is the figure).
Every result must be "onboarded" with the branch on the remote, or the rep is invalid.

Targets (the issue): worst repository <= 15 s; the batch faster than REPOS x one repository alone
(batch / (REPOS x single) < 1). Reference: a comparable onboarding tool, 5.56 s per repository.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from benchmarks.stack import CITK

REPOS = 20
CONCURRENCY = 4
SINGLES = 3
REFERENCE_SECONDS = 5.56
COMPOSE = """\
services:
  db:
    image: postgres:15
    environment: {POSTGRES_USER: shop, POSTGRES_PASSWORD: devpw, POSTGRES_DB: shop}
    ports: ["5432:5432"]
  cache:
    image: redis:7
    ports: ["6379:6379"]
"""
FILES = {
    "docker-compose.yml": COMPOSE,
    "pyproject.toml": '# shop\n[project]\nname = "shop"\nversion = "1"\n\n'
    '[project.optional-dependencies]\ntest = ["pytest"]\n',
    "shop/__init__.py": "",
    "tests/test_shop.py": "def test_shop() -> None:\n    pass\n",
    "migrations/001_init.sql": "CREATE TABLE products (id int);\n",
}
GIT = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b",
       "GIT_COMMITTER_EMAIL": "b@example.com"}  # fmt: skip


def batch_figures(workdir: Path) -> dict[str, Any]:
    root = workdir / "onboard"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    seed = _seed(root)
    singles = []
    for i in range(SINGLES):
        listing = _listing(root, f"single-{i}", [_bare(root, seed, f"single-{i}")])
        seconds, _ = _batch(listing, root, 1)
        singles.append(seconds)
    remotes = [_bare(root, seed, f"repo-{i:02d}") for i in range(REPOS)]
    wall, rows = _batch(_listing(root, "all", remotes), root, CONCURRENCY)
    shutil.rmtree(root, ignore_errors=True)
    single = statistics.median(singles)
    worst = max(r["seconds"] for r in rows)
    return {
        "repos": REPOS,
        "concurrency": CONCURRENCY,
        "single_seconds": single,
        "batch_seconds": wall,
        "worst_repo_seconds": worst,
        "median_repo_seconds": statistics.median(r["seconds"] for r in rows),
        "batch_vs_serial": wall / (REPOS * single),
        "reference_seconds_per_repo": REFERENCE_SECONDS,
    }


def _batch(listing: Path, root: Path, concurrency: int) -> tuple[float, list[dict[str, Any]]]:
    cmd = [CITK, "init", "--batch", str(listing), "--push", "--json", "--concurrency", str(concurrency)]
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=900,
                          env={**os.environ, **GIT, "CI": "true"})  # fmt: skip
    wall = time.perf_counter() - started
    rows: list[dict[str, Any]] = json.loads(done.stdout)["repositories"]
    bad = [r for r in rows if r["status"] != "onboarded"]
    if done.returncode != 0 or bad:
        raise RuntimeError(f"init --batch: exit {done.returncode}: {bad or done.stderr[-400:]}")
    return wall, rows


def _seed(root: Path) -> Path:
    work = root / "seed"
    for rel, text in FILES.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text(text)
    _git(work, "init", "-q", "-b", "main")
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "initial")
    return work


def _bare(root: Path, seed: Path, name: str) -> Path:
    bare = root / f"{name}.git"
    _git(root, "clone", "-q", "--bare", str(seed), str(bare))
    return bare


def _listing(root: Path, name: str, remotes: list[Path]) -> Path:
    path = root / f"{name}.txt"
    path.write_text("".join(f"{r}\n" for r in remotes))
    return path


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env={**os.environ, **GIT})
