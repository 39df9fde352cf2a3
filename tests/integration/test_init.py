"""`ci-toolkit init` on fixture repositories made here, through the real CLI and the real compose
(and, for the postgres + redis one, a real integration run of what it wrote)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.mounts import read_only
from tests.unit.onboard.test_workflow import lint

pytestmark = pytest.mark.integration

WORKFLOW = ".github/workflows/integration-tests.yml"
PYPROJECT = """\
# Shop: the storefront.  Comments   and   odd spacing must survive init.
[project]
name = "shop"   # the distribution
version = "0.1.0"
dependencies = [
    "psycopg[binary]",  # the driver the tests use
]

[project.optional-dependencies]
test = ["pytest"]  # what CI installs

# Linting
[tool.ruff]
line-length = 100   # wide

# This comment belongs to [build-system] and stays right above it.
[build-system]
requires = ["setuptools>=61"]
"""
DEV_COMPOSE = """\
# The dev stack: fixed ports, as developers run it.
services:
  db:
    image: postgres:15
    environment:
      POSTGRES_USER: shop
      POSTGRES_PASSWORD: ${SHOP_DB_PASSWORD:-devpw}
      POSTGRES_DB: shop
    ports: ["5432:5432"]
  cache:
    image: redis:7
    ports: ["6379:6379"]
"""
TESTS = """\
import os
import socket
from urllib.parse import urlparse

import psycopg


def test_the_migrated_database() -> None:
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM products").fetchone() == (2,)


def test_redis_answers() -> None:
    url = urlparse(os.environ["REDIS_URL"])
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(b"PING\\r\\n")
        assert sock.recv(16).startswith(b"+PONG")
"""


def _tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "ci-artifacts" not in p.parts and "__pycache__" not in p.parts
    }


def _shop(root: Path) -> Path:
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("")
    (root / "tests").mkdir()
    (root / "tests" / "test_shop.py").write_text(TESTS)
    (root / "migrations").mkdir()
    (root / "migrations" / "001_products.sql").write_text(
        "CREATE TABLE products (id int PRIMARY KEY, name text);\n"
        "INSERT INTO products VALUES (1, 'a'), (2, 'b');\n"
    )
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "docker-compose.yml").write_text(DEV_COMPOSE)
    return root


def test_a_dev_compose_file_is_onboarded_runs_green_and_a_second_init_changes_nothing(tmp_path: Path) -> None:
    repo = _shop(tmp_path / "shop")
    first = run_cli(["init"], repo)
    assert first.returncode == 0, first.output
    assert "db: postgres probe on port 5432" in first.stdout
    assert 'ports = "dynamic": fixed host ports 5432, 6379' in first.stdout
    assert "wrote pyproject.toml" in first.stdout and f"wrote {WORKFLOW}" in first.stdout
    assert "config check: ok (2 compose services: cache, db)" in first.stdout
    text = (repo / "pyproject.toml").read_text()
    assert text.startswith(PYPROJECT)  # every byte of the original, in place
    assert 'DATABASE_URL = "postgresql://shop:{env.SHOP_DB_PASSWORD}@{db.host}:{db.port:5432}/shop"' in text
    assert "devpw" in text.split("[tool.ci-toolkit.env]")[1]  # the default, from ${…:-devpw}
    assert (repo / ".gitignore").read_text() == "ci-artifacts/\n"
    assert lint(tmp_path / "lint", (repo / WORKFLOW).read_text()) == []  # actionlint, zizmor x2

    run = run_cli(["integration-run", "--json"], repo, timeout=600)
    assert run.returncode == 0, run.output
    assert run.json()["tests"]["passed"] == 2

    before = _tree(repo)
    again = run_cli(["init"], repo)
    assert again.returncode == 0, again.output
    assert "already set up by ci-toolkit init; nothing to change" in again.stdout
    assert _tree(repo) == before
    assert run_cli(["init", "--check"], repo).returncode == 0


def test_no_compose_file_needs_with_then_writes_one_and_grows_with_it(tmp_path: Path) -> None:
    repo = tmp_path / "bare"
    (repo / "tests").mkdir(parents=True)
    refused = run_cli(["init"], repo)
    assert refused.returncode == 2
    assert "no compose file" in refused.stderr and "ci-toolkit init --with postgres" in refused.stderr
    assert not any(repo.iterdir()) or _tree(repo) == {}

    wrote = run_cli(["init", "--with", "postgres"], repo)
    assert wrote.returncode == 0, wrote.output
    compose = (repo / "docker-compose.test.yml").read_text()
    assert compose.startswith("# Written by `ci-toolkit init` --with postgres")
    assert '"127.0.0.1::5432"' in compose
    config = (repo / "ci-toolkit.toml").read_text()
    assert 'DATABASE_URL = "postgresql://test:test@{postgres.host}:{postgres.port:5432}/app"' in config
    assert "unchanged" in run_cli(["init", "--json"], repo).stdout  # no --with: the file init wrote is read

    grown = run_cli(["init", "--with", "postgres,redis"], repo)
    assert grown.returncode == 0, grown.output
    assert "redis:" in (repo / "docker-compose.test.yml").read_text()
    assert "[services.redis]" in (repo / "ci-toolkit.toml").read_text()
    bad = run_cli(["init", "--with", "postgress"], repo)
    assert bad.returncode == 2 and "did you mean 'postgres'" in bad.stderr


def test_dry_run_writes_nothing_and_check_reports_drift(tmp_path: Path) -> None:
    repo = _shop(tmp_path / "shop")
    before = _tree(repo)
    dry = run_cli(["init", "--dry-run"], repo)
    assert dry.returncode == 0, dry.output
    assert "+++ b/pyproject.toml" in dry.stdout and f"+++ b/{WORKFLOW}" in dry.stdout
    assert "dry run: 3 file(s) would change; nothing written" in dry.stdout
    assert _tree(repo) == before
    drift = run_cli(["init", "--check"], repo)
    assert drift.returncode == 1
    assert "3 file(s) differ from what ci-toolkit init writes: pyproject.toml" in drift.stdout
    assert run_cli(["init"], repo).returncode == 0
    (repo / WORKFLOW).unlink()
    drift = run_cli(["init", "--check", "--json"], repo)
    assert drift.returncode == 1
    assert drift.json()["files"] == [WORKFLOW]


def test_a_read_only_github_dir_changes_no_file_and_names_it(tmp_path: Path) -> None:
    repo = _shop(tmp_path / "shop")
    (repo / ".github" / "workflows").mkdir(parents=True)
    before = _tree(repo)
    with read_only(repo / ".github"):
        failed = run_cli(["init"], repo)
    assert failed.returncode == 9, failed.output
    assert f"cannot write {WORKFLOW}: Read-only file system; nothing was changed" in failed.stderr
    assert _tree(repo) == before  # pyproject.toml and .gitignore staged, then thrown away
    assert not [p for p in repo.rglob("*.ci-toolkit-init.tmp")]


def test_an_unparsable_compose_file_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    repo = _shop(tmp_path / "shop")
    (repo / "docker-compose.yml").write_text("services:\n  db:\n    image: [postgres\n")
    before = _tree(repo)
    failed = run_cli(["init"], repo)
    assert failed.returncode == 2
    assert "docker-compose.yml" in failed.stderr and "compose rejected" in failed.stderr
    assert _tree(repo) == before


def test_a_config_that_fails_its_check_after_writing_puts_every_file_back(tmp_path: Path) -> None:
    repo = _shop(tmp_path / "shop")
    (repo / "ci-toolkit.toml").write_text(
        'compose_files = ["docker-compose.yml"]\n\n'
        '[services.ghost]  # not in compose\nkind = "tcp"\nport = 1\n'
    )
    before = _tree(repo)
    failed = run_cli(["init"], repo)
    assert failed.returncode == 2, failed.output
    assert "config check failed on what init wrote, so every file was put back" in failed.stderr
    assert "ghost" in failed.stderr
    assert _tree(repo) == before
    assert not (repo / ".github").exists()


def test_a_workflow_of_your_own_is_left_alone(tmp_path: Path) -> None:
    repo = _shop(tmp_path / "shop")
    (repo / ".github" / "workflows").mkdir(parents=True)
    mine = "name: mine\non: push\njobs: {}\n"
    (repo / WORKFLOW).write_text(mine)
    done = run_cli(["init"], repo)
    assert done.returncode == 0, done.output
    assert "(no `ci-toolkit init` header line): left as it is" in done.stdout
    assert (repo / WORKFLOW).read_text() == mine
    assert os.access(repo / "pyproject.toml", os.R_OK)


def test_crlf_files_stay_crlf_and_a_workflow_without_its_first_line_is_yours(tmp_path: Path) -> None:
    repo = _shop(tmp_path / "shop")
    crlf = PYPROJECT.replace("\n", "\r\n")
    (repo / "pyproject.toml").write_bytes(crlf.encode())
    (repo / ".gitignore").write_bytes(b"node_modules/\r\n")
    assert run_cli(["init"], repo).returncode == 0
    written = (repo / "pyproject.toml").read_bytes().decode()
    assert written.startswith(crlf) and "\n" not in written.replace("\r\n", "")
    assert (repo / ".gitignore").read_bytes() == b"node_modules/\r\nci-artifacts/\r\n"
    assert run_cli(["init", "--check"], repo).returncode == 0

    workflow = repo / WORKFLOW
    mine = workflow.read_text().split("\n", 1)[1].replace("timeout-minutes: 30", "timeout-minutes: 45")
    workflow.write_text(mine)  # the first line deleted, as its header says: the file is the user's
    assert run_cli(["init", "--check"], repo).returncode == 0
    assert run_cli(["init"], repo).returncode == 0 and workflow.read_text() == mine


def test_a_subdirectory_of_a_repository_gets_no_workflow_github_would_not_read(tmp_path: Path) -> None:
    (tmp_path / "mono" / ".git").mkdir(parents=True)
    api = _shop(tmp_path / "mono" / "services" / "api")
    done = run_cli(["init"], api)
    assert done.returncode == 0, done.output
    assert f"{WORKFLOW} not written: GitHub reads workflows at the repository's root" in done.stdout
    assert not (api / ".github").exists()
