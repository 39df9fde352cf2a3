"""ci_toolkit.redact.names: which variable (and JSON key) names hold credentials."""

from __future__ import annotations

import pytest

from ci_toolkit.redact import looks_secret
from ci_toolkit.redact.names import name_parts

CREDENTIALS = [
    "PGPASS",
    "DB_PASS",
    "DB_PWD",
    "MYSQL_PWD",
    "POSTGRES_PASSWORD",
    "DBPASSWORD",
    "SMTP_PASSWD",
    "GPG_PASSPHRASE",
    "STRIPE_KEY",
    "API_KEY",
    "APIKEY",
    "SSH_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "CLIENT_SECRET",
    "GITHUB_TOKEN",
    "GHTOKEN",
    "API_TOKEN",
    "GH_PAT",
    "SLACK_WEBHOOK_URL",
    "SENTRY_DSN",
    "SENTRYDSN",
    "BASIC_AUTH",
    "OAUTH_CLIENT",
    "HTTP_AUTHORIZATION",
    "GOOGLE_CREDENTIALS",
    "REGISTRY_CREDS",
    "PRIVATE_KEY",
    "TLS_CERT",
    "SESSION_COOKIE",
    "FLASK_SESSION",
    "JWT",
    "apiKey",
    "clientSecret",
    "accessToken",
    "--db-password",
]
NOT_CREDENTIALS = [
    "PWD",
    "OLDPWD",
    "PATH",
    "HOME",
    "KEYBOARD",
    "KEYBOARD_LAYOUT",
    "MONKEY",
    "HOTKEY",
    "BYPASS_CACHE",
    "COMPASS_DIR",
    "COMPAT_MODE",
    "GIT_AUTHOR_NAME",
    "XAUTHORITY",
    "SSH_AUTH_SOCK",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_SESSION_TYPE",
    "TOKENIZERS_PARALLELISM",
    "POSTGRES_PASSWORD_FILE",  # where the password is, not the password
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "SSH_KEY_PATH",
    "DATABASE_URL",  # its password is found as a URL's, not by the name
    "PASSENGER_COUNT",
    "Image",
]


@pytest.mark.parametrize("name", CREDENTIALS)
def test_credential_names(name: str) -> None:
    assert looks_secret(name)


@pytest.mark.parametrize("name", NOT_CREDENTIALS)
def test_names_that_only_resemble_credentials(name: str) -> None:
    assert not looks_secret(name)


def test_names_split_on_separators_and_camel_case() -> None:
    assert name_parts("STRIPE_KEY") == ["STRIPE", "KEY"]
    assert name_parts("apiKey") == ["API", "KEY"]
    assert name_parts("com.docker.compose-hash") == ["COM", "DOCKER", "COMPOSE", "HASH"]
    assert name_parts("APIKEY") == ["APIKEY"]  # upper case: one word
