"""Credentials for the readiness probes: from the config, else from the compose definition; and
never shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.config import ServiceCheck
from ci_toolkit.redact import REDACTOR
from ci_toolkit.stack.credentials import checks, with_credentials
from tests.conftest import config_error, load_config_text

REDIS = ServiceCheck("cache", "redis", 6379, 5)
NATS = ServiceCheck("bus", "nats", 4222, 5)


@pytest.mark.parametrize(
    ("service", "password"),
    [
        ({"command": ["redis-server", "--requirepass", "s3cr3t-pw"]}, "s3cr3t-pw"),
        (
            {"command": ["sh", "-c", "exec redis-server --appendonly yes --requirepass 's3cr3t pw'"]},
            "s3cr3t pw",
        ),
        ({"command": "redis-server --requirepass s3cr3t-pw"}, "s3cr3t-pw"),
        ({"environment": {"REDIS_PASSWORD": "bitnami-pw"}}, "bitnami-pw"),
        ({"environment": ["REDIS_PASSWORD=bitnami-pw"]}, "bitnami-pw"),
    ],
)
def test_redis_password_from_the_compose_definition(service: dict[str, Any], password: str) -> None:
    check = with_credentials(REDIS, {"image": "redis:7", **service})
    assert (check.user, check.password) == ("", password)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["--user", "app-user", "--pass", "app-password"], {"user": "app-user", "password": "app-password"}),
        (["-user=app-user", "-pass=app-password", "-js"], {"user": "app-user", "password": "app-password"}),
        (["-js", "--auth", "token-1234567"], {"token": "token-1234567"}),
    ],
)
def test_nats_credentials_from_the_command_line(command: list[str], expected: dict[str, str]) -> None:
    check = with_credentials(NATS, {"image": "nats:2.10", "command": command})
    assert {k: getattr(check, k) for k in ("user", "password", "token") if getattr(check, k)} == expected


def test_the_config_wins_and_unprotected_services_are_left_alone() -> None:
    mine = ServiceCheck("cache", "redis", 6379, 5, user="alice", password="from-config")
    protected = {"command": ["redis-server", "--requirepass", "from-compose"]}
    assert with_credentials(mine, protected) is mine
    assert with_credentials(REDIS, {"image": "redis:7", "command": ["redis-server"]}) is REDIS
    assert with_credentials(REDIS, None) is REDIS
    web = ServiceCheck("web", "http", 8080, 5)
    assert with_credentials(web, {"environment": {"REDIS_PASSWORD": "x-password"}}) is web
    model = {"services": {"cache": protected, "bus": {"command": ["--auth", "bus-token-99"]}}}
    found = checks([REDIS, NATS], model)
    assert (found["cache"].password, found["bus"].token) == ("from-compose", "bus-token-99")
    assert checks([REDIS], None) == {"cache": REDIS}


def test_credentials_from_compose_are_masked_from_then_on() -> None:
    with_credentials(NATS, {"command": ["--user", "bus-user", "--pass", "Zq8-very-private"]})
    assert REDACTOR("connect with Zq8-very-private") == "connect with ***"


def test_password_and_token_never_appear_in_the_checks_json(tmp_path: Path) -> None:
    config = load_config_text(
        tmp_path,
        'compose_files = ["c.yml"]\n'
        '[services.cache]\nkind = "redis"\nuser = "alice"\npassword = "redis-pw-4711"\ntls = true\n'
        '[services.bus]\nkind = "nats"\ntoken = "nats-token-4711"\n'
        '[services.db]\nkind = "postgres"\n',
    )
    cache, bus, db = config.services
    assert (cache.user, cache.password, bus.token) == ("alice", "redis-pw-4711", "nats-token-4711")
    assert (cache.tls, bus.tls) == (True, False)
    assert (bus.user, db.user) == ("", "postgres")  # postgres's default login is postgres's alone
    shown = json.dumps([cache.to_dict(), bus.to_dict(), config.to_dict()])
    assert "redis-pw-4711" not in shown and "nats-token-4711" not in shown
    assert cache.to_dict()["password"] == "***" and bus.to_dict()["token"] == "***"


def test_credential_keys_belong_to_their_kinds(tmp_path: Path) -> None:
    message = config_error(
        tmp_path, 'compose_files = ["c.yml"]\n[services.cache]\nkind = "redis"\ntoken = "abc-token"\n'
    )
    assert "services.cache.token" in message and "nats" in message


def test_a_redis_acl_rules_password_is_masked_too() -> None:
    acl = "redis-server --user alice on >Acl-pw-31337 ~* +@all --user default off"
    check = with_credentials(REDIS, {"command": acl})
    assert check is REDIS  # which ACL user the tests want is the config's to say
    assert REDACTOR(f"AUTH alice Acl-pw-31337 via {acl}").count("Acl-pw-31337") == 0


POSTGRES = ServiceCheck("db", "postgres", 5432, 5)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        (
            {"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "pg-pw", "POSTGRES_DB": "shop"},
            ("app", "pg-pw", "shop"),
        ),
        # no POSTGRES_DB: the image names the database after the user
        ({"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "pg-pw"}, ("app", "pg-pw", "app")),
        ({"POSTGRES_PASSWORD": "pg-pw"}, ("postgres", "pg-pw", "postgres")),
        (
            {"POSTGRESQL_USERNAME": "bn", "POSTGRESQL_PASSWORD": "bn-pw", "POSTGRESQL_DATABASE": "b"},
            ("bn", "bn-pw", "b"),
        ),
        ({"POSTGRES_HOST_AUTH_METHOD": "trust"}, ("postgres", "", "postgres")),
    ],
)
def test_postgres_login_from_the_image_environment(
    environment: dict[str, str], expected: tuple[str, str, str]
) -> None:
    check = with_credentials(POSTGRES, {"image": "postgres:16", "environment": environment})
    assert (check.user, check.password, check.database) == expected


def test_postgres_login_in_the_config_wins_but_the_database_still_follows_compose() -> None:
    configured = ServiceCheck("db", "postgres", 5432, 5, user="me", password="mine")
    check = with_credentials(
        configured,
        {"environment": {"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "pg-pw", "POSTGRES_DB": "shop"}},
    )
    assert (check.user, check.password, check.database) == ("me", "mine", "shop")
    named = ServiceCheck("db", "postgres", 5432, 5, database="other")
    assert with_credentials(named, {"environment": {"POSTGRES_DB": "shop"}}).database == "other"


def test_compose_dollar_escapes_are_what_the_container_gets() -> None:
    check = with_credentials(REDIS, {"command": ["redis-server", "--requirepass", "pa$$word"]})
    assert check.password == "pa$word"
