"""The config init writes: every byte of pyproject.toml outside our block unchanged, only what is
missing added, and a second run a no-op."""

from __future__ import annotations

import tomllib

import pytest

from ci_toolkit.errors import ConfigError
from ci_toolkit.onboard import config_text
from ci_toolkit.onboard.infer import Inferred, ServiceSpec

COMMENTED = """\
# Shop: the storefront.   (odd   spacing kept)
[project]
name = "shop"   # trailing comment
version = "1.0"
dependencies = [
    "psycopg",  # the driver
]

# Lint settings
[tool.ruff]
line-length = 100  # keep

[tool.pytest.ini_options]
testpaths = ["tests"]

# The build backend: this comment sits above the last table and must stay with it.
[build-system]
requires = ["setuptools"]
"""

INFERRED = Inferred(
    services=(ServiceSpec("db", "postgres", 5432), ServiceSpec("bus", "nats", 4222, {"jetstream": True})),
    exports={
        "DATABASE_URL": "postgresql://app:{env.PGPASS}@{db.host}:{db.port:5432}/app",
        "NATS_URL": "nats://{bus.host}:{bus.port:4222}",
    },
    env_required=(),
    env_defaults={"PGPASS": "devpw"},
    dynamic_ports=True,
    start=(),
    migrations_dsn="{export.DATABASE_URL}",
    notes=(),
)
TABLE = config_text.desired(INFERRED, ["docker-compose.yml"], ["tests"], ["shop"], "migrations")


def test_pyproject_every_byte_outside_our_block_is_unchanged() -> None:
    after = config_text.pyproject(COMMENTED, TABLE)
    assert after.startswith(COMMENTED)  # appended: the original text is a prefix, byte for byte
    data = tomllib.loads(after)["tool"]["ci-toolkit"]
    assert data["services"]["db"] == {"kind": "postgres", "port": 5432}
    assert data["services"]["bus"]["jetstream"] is True
    assert data["ports"] == "dynamic"
    assert data["env"]["defaults"] == {"PGPASS": "devpw"}
    assert data["migrations"] == {"directory": "migrations", "dsn": "{export.DATABASE_URL}"}
    assert "[tool.ci-toolkit.services]\n" not in after  # a super table: no empty header


def test_a_second_run_changes_nothing() -> None:
    once = config_text.pyproject(COMMENTED, TABLE)
    assert config_text.pyproject(once, TABLE) == once
    toml_once = config_text.toolkit_toml(None, TABLE)
    assert config_text.toolkit_toml(toml_once, TABLE) == toml_once


def test_an_edited_block_keeps_the_edits_and_its_comments_and_gains_only_what_is_missing() -> None:
    edited = COMMENTED.replace(
        "# The build backend",
        '[tool.ci-toolkit]\ncompose_files = ["docker-compose.yml"]  # ours now\n\n'
        '[tool.ci-toolkit.services.db]  # tuned\nkind = "postgres"\nport = 5432\ntimeout = 300\n\n'
        '[tool.ci-toolkit.export]\nDB_URL = "postgresql://x@{db.host}:{db.port}/x"  # our own name\n\n'
        "# The build backend",
    )
    after = config_text.pyproject(edited, TABLE)
    data = tomllib.loads(after)["tool"]["ci-toolkit"]
    assert data["services"]["db"] == {"kind": "postgres", "port": 5432, "timeout": 300}  # yours: untouched
    assert "bus" in data["services"]  # missing: added, with the export that reads it
    assert data["export"] == {
        "DB_URL": "postgresql://x@{db.host}:{db.port}/x",
        "NATS_URL": INFERRED.exports["NATS_URL"],
    }
    assert "# tuned" in after and "# our own name" in after and "# ours now" in after
    # Outside the block: identical, including the comment that belongs to [build-system].
    assert after.startswith(edited.split("[tool.ci-toolkit]")[0])
    assert after.endswith(
        "# The build backend: this comment sits above the last table and must stay with it.\n"
        '[build-system]\nrequires = ["setuptools"]\n'
    )


def test_a_block_split_by_a_foreign_table_is_still_merged() -> None:
    split = (
        '[tool.ci-toolkit]\ncompose_files = ["c.yml"]\n\n[tool.ruff]\nx = 1\n\n'
        '[tool.ci-toolkit.pytest]\nargs = ["-q"]\n'
    )
    after = config_text.pyproject(split, TABLE)
    data = tomllib.loads(after)
    assert data["tool"]["ruff"] == {"x": 1}
    assert data["tool"]["ci-toolkit"]["pytest"] == {"args": ["-q"]}  # present: yours
    assert data["tool"]["ci-toolkit"]["compose_files"] == ["c.yml"]


def test_invalid_toml_names_the_file() -> None:
    with pytest.raises(ConfigError, match=r"ci-toolkit.toml: not valid TOML"):
        config_text.toolkit_toml("compose_files = [", TABLE)


def test_a_dotted_key_elsewhere_that_would_make_two_tables_is_refused_before_writing() -> None:
    dotted = '[tool]\n"ci-toolkit" = 1\n'
    with pytest.raises(ConfigError, match=r"pyproject.toml: adding \[tool.ci-toolkit\]") as err:
        config_text.pyproject(dotted, TABLE)
    assert "ci-toolkit.toml" in str(err.value)
