"""From a compose model (as `docker compose config --format json` gives it) to checks, exports,
env and migrations; a referenced value becomes `{env.NAME}`, never its value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.onboard.facts import RepoFacts
from ci_toolkit.onboard.infer import image_kind, infer


def _facts(migrations: str | None = None, other: str | None = None) -> RepoFacts:
    return RepoFacts(Path("/r"), ("compose.yaml",), False, None, False, migrations, other, (), (), "", ())


def _port(target: int, published: str | None = None) -> dict[str, Any]:
    return {
        "target": target,
        **({"published": published} if published is not None else {}),
        "protocol": "tcp",
    }


@pytest.mark.parametrize(
    ("image", "kind"),
    [
        ("postgres:16", "postgres"),
        ("postgis/postgis:16-3.4", "postgres"),
        ("timescale/timescaledb:latest-pg16", "postgres"),
        ("docker.io/library/redis@sha256:abc", "redis"),
        ("valkey/valkey:8", "redis"),
        ("docker.dragonflydb.io/dragonflydb/dragonfly", "redis"),
        ("eqalpha/keydb", "redis"),
        ("nats:2.10-alpine", "nats"),
        ("localhost:5000/team/api:1", None),
        ("mysql:8", None),
    ],
)
def test_image_kinds(image: str, kind: str | None) -> None:
    assert image_kind(image) == kind


def test_a_dev_compose_file_on_fixed_ports() -> None:
    model = {
        "services": {
            "db": {
                "image": "postgres:15",
                "ports": [_port(5432, "5432")],
                "environment": {"POSTGRES_USER": "shop", "POSTGRES_PASSWORD": "devpw", "POSTGRES_DB": "shop"},
            },
            "cache": {
                "image": "redis:7",
                "command": ["redis-server", "--requirepass", "p@ss"],
                "ports": [_port(6379, "6379")],
            },
        }
    }
    got = infer(model, model, _facts(migrations="migrations"))
    assert [(s.name, s.kind, s.port) for s in got.services] == [
        ("cache", "redis", 6379),
        ("db", "postgres", 5432),
    ]
    assert got.exports == {
        "REDIS_URL": "redis://:p%40ss@{cache.host}:{cache.port:6379}/0",  # URL-quoted
        "DATABASE_URL": "postgresql://shop:devpw@{db.host}:{db.port:5432}/shop",
    }
    assert got.dynamic_ports
    assert got.migrations_dsn == "{export.DATABASE_URL}"
    assert any("fixed host ports 5432, 6379" in n for n in got.notes)


def test_referenced_values_become_env_templates_never_the_shells_value() -> None:
    raw = {
        "services": {
            "db": {
                "image": "${IMG:-postgres:16}",
                "ports": [_port(5432)],
                "environment": {"POSTGRES_PASSWORD": "${PGPASS:-devpw}", "POSTGRES_USER": "${PGUSER}"},
            }
        }
    }
    model = {
        "services": {
            "db": {
                "image": "postgres:16",
                "ports": [_port(5432)],
                "environment": {"POSTGRES_PASSWORD": "from-my-shell", "POSTGRES_USER": "me"},
            }
        }
    }
    got = infer(model, raw, _facts())
    assert (
        got.exports["DATABASE_URL"]
        == "postgresql://{env.PGUSER}:{env.PGPASS}@{db.host}:{db.port:5432}/{env.PGUSER}"
    )
    assert got.env_defaults == {"PGPASS": "devpw"}
    assert got.env_required == ("PGUSER",)
    assert "from-my-shell" not in repr(got)
    assert not got.dynamic_ports


def test_other_services_by_healthcheck_port_or_nothing_and_built_ones_not_started() -> None:
    model = {
        "services": {
            "api": {"build": {"context": "."}, "ports": [_port(8000, "8000")]},
            "search": {"image": "opensearch:2", "healthcheck": {"test": ["CMD", "curl", "localhost:9200"]}},
            "mail": {"image": "mailhog/mailhog", "ports": [_port(1025), _port(8025)]},
            "worker": {"image": "busybox"},
            "bus": {"image": "nats:2.10", "command": ["-js"], "ports": [_port(4222)]},
        }
    }
    got = infer(model, model, _facts())
    assert got.start == ("bus", "mail", "search", "worker")
    assert [(s.name, s.kind, s.port, dict(s.extra)) for s in got.services] == [
        ("bus", "nats", 4222, {"jetstream": True}),
        ("mail", "tcp", 1025, {}),
    ]
    assert got.exports == {"NATS_URL": "nats://{bus.host}:{bus.port:4222}"}
    notes = "\n".join(got.notes)
    assert "search: ready when its own healthcheck passes" in notes
    assert "worker: no port and no healthcheck" in notes
    assert "api built from source" in notes
    assert not got.dynamic_ports  # api's fixed port is not started


def test_a_second_database_gets_its_own_export_and_braces_are_escaped() -> None:
    model = {
        "services": {
            "main": {
                "image": "postgres:16",
                "ports": [_port(5432)],
                "environment": {"POSTGRES_PASSWORD": "a{b}"},
            },
            "reports": {"image": "postgres:16", "ports": [_port(5432)]},
        }
    }
    got = infer(model, model, _facts())
    assert (
        got.exports["DATABASE_URL"] == "postgresql://postgres:a%7Bb%7D@{main.host}:{main.port:5432}/postgres"
    )
    assert (
        got.exports["REPORTS_DATABASE_URL"]
        == "postgresql://postgres@{reports.host}:{reports.port:5432}/postgres"
    )


def test_migrations_in_another_tools_format_are_named_not_run() -> None:
    got = infer({"services": {}}, {"services": {}}, _facts(other="migrations"))
    assert got.migrations_dsn is None
    assert any("not ci-toolkit's format" in n for n in got.notes)


def test_passwords_in_a_shell_script_command_and_compose_escapes() -> None:
    model = {
        "services": {
            "cache": {"image": "redis:7", "command": ["sh", "-c", "redis-server --requirepass 's3 cr3t'"],
                      "ports": [_port(6379)]},
            "bus": {"image": "nats:2.10", "command": ["sh", "-c", "nats-server -js --user u --pass pw"],
                    "ports": [_port(4222)]},
            "db": {"image": "bitnami/postgresql:16", "ports": [_port(5432)],
                   "environment": {"POSTGRESQL_PASSWORD": "w$$rd"}},
        }
    }  # fmt: skip
    got = infer(model, model, _facts())
    assert got.exports["REDIS_URL"] == "redis://:s3%20cr3t@{cache.host}:{cache.port:6379}/0"
    assert got.exports["NATS_URL"] == "nats://u:pw@{bus.host}:{bus.port:4222}"
    assert [s.extra for s in got.services if s.name == "bus"] == [{"jetstream": True}]
    assert got.exports["DATABASE_URL"] == "postgresql://postgres:w%24rd@{db.host}:{db.port:5432}/postgres"


def test_required_and_pass_through_variables_become_required_env_and_a_mixed_value_is_named() -> None:
    raw = {
        "services": {
            "db": {"image": "postgres:16", "ports": [_port(5432)],
                   "environment": {"POSTGRES_PASSWORD": "${PGPASS:?set PGPASS}", "POSTGRES_USER": None,
                                   "POSTGRES_DB": "app-${STAGE}"}},
        }
    }  # fmt: skip
    got = infer(raw, raw, _facts())
    assert (
        got.exports["DATABASE_URL"]
        == "postgresql://{env.POSTGRES_USER}:{env.PGPASS}@{db.host}:{db.port:5432}/postgres"
    )
    assert got.env_required == ("PGPASS", "POSTGRES_USER")
    assert any("a login built from several variables is left out of DATABASE_URL" in n for n in got.notes)
