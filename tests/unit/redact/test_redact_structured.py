"""ci_toolkit.redact by key: docker inspect, compose config and environment snapshots."""

from __future__ import annotations

import json
import secrets as random

from ci_toolkit.redact import MASK, Redactor

TOKEN7 = "Zq7xK9w"  # a 7-character token: masked by key, whatever the minimum for values


def inspect_like() -> dict[str, object]:
    return {
        "Id": "c0ffee",
        "Config": {
            "Env": [
                f"API_TOKEN={TOKEN7}",
                "POSTGRES_PASSWORD=test",
                "PGPASS=pg",
                "DATABASE_URL=postgresql://app:url-pw-123456@db/app",
                "PATH=/usr/bin:/bin",
                "EMPTY_SECRET=",
            ],
            "Cmd": ["server", "--db-password=cmd-pw-1234", "--port=5432"],
            "Labels": {"com.docker.compose.service": "api", "io.ci-toolkit.owner-pid": "42"},
        },
        "NetworkSettings": {"Ports": {"5432/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}]}},
    }


def test_inspect_environment_and_arguments_are_masked_by_key_whatever_the_length() -> None:
    r = Redactor()
    safe = r.data(inspect_like())
    config = safe["Config"]
    assert config["Env"] == [
        "API_TOKEN=***",
        "POSTGRES_PASSWORD=***",
        "PGPASS=***",
        "DATABASE_URL=postgresql://app:***@db/app",
        "PATH=/usr/bin:/bin",
        "EMPTY_SECRET=",
    ]
    assert config["Cmd"] == ["server", "--db-password=***", "--port=5432"]
    assert config["Labels"] == inspect_like()["Config"]["Labels"]  # type: ignore[index]
    assert safe["NetworkSettings"] == inspect_like()["NetworkSettings"]


def test_compose_config_environment_masked_by_key_and_nested_secrets_entirely() -> None:
    r = Redactor()
    model = {
        "services": {
            "api": {
                "environment": {
                    "STRIPE_KEY": "sk_1",
                    "SENTRY_DSN": None,
                    "MODE": "ci",
                    "SLACK_WEBHOOK_URL": "x",
                },
                "image": "api:1",
            }
        },
        "secrets": {"db": {"file": "./db.txt"}},
    }
    safe = r.data(model)
    assert safe["services"]["api"]["environment"] == {
        "STRIPE_KEY": MASK,
        "SENTRY_DSN": None,
        "MODE": "ci",
        "SLACK_WEBHOOK_URL": MASK,
    }
    assert safe["secrets"] == {"db": {"file": MASK}}
    assert safe["services"]["api"]["image"] == "api:1"


def test_learning_from_structured_data_masks_the_values_in_any_text() -> None:
    r = Redactor()
    stripe = f"sk_test_{random.token_hex(8)}"
    r.learn_data({"services": {"api": {"environment": {"STRIPE_KEY": stripe, "MODE": "ci"}}}})
    r.learn_data(inspect_like())
    assert r(f"api log: charging with {stripe}") == "api log: charging with ***"
    assert r("connecting with url-pw-123456 and cmd-pw-1234") == "connecting with *** and ***"
    assert r(f"{TOKEN7} mode ci test") == "*** mode ci test"  # 7 characters: learned; `test`: too short


def test_json_command_output_is_learned_whole_or_line_by_line() -> None:
    r = Redactor()
    one, two = f"one-{random.token_hex(6)}", f"two-{random.token_hex(6)}"
    r.learn_output(json.dumps({"services": {"a": {"environment": {"API_KEY": one}}}}, indent=2))
    r.learn_output(json.dumps({"Env": f"X_TOKEN={two}"}) + "\n" + json.dumps({"n": 1}) + "\n")
    r.learn_output("not json API_KEY=whatever-value")
    assert r(f"{one} {two} whatever-value") == "*** *** whatever-value"


def test_env_snapshot_masks_credential_names_and_url_passwords() -> None:
    r = Redactor()
    snapshot = r.env_snapshot(
        {"B_TOKEN": "t", "A_URL": "redis://u:pw-in-url@h:1/0", "PWD": "/work", "EMPTY_KEY": ""}
    )
    assert snapshot == {"A_URL": "redis://u:***@h:1/0", "B_TOKEN": MASK, "EMPTY_KEY": "", "PWD": "/work"}
    assert list(snapshot) == sorted(snapshot)
