from __future__ import annotations

import pytest

from ci_toolkit.config.templates import Endpoint, TemplateError, refs, render

ENDPOINTS = {"postgres": Endpoint("127.0.0.1", {5432: 49001}), "nats": Endpoint("127.0.0.1", {4222: 49002})}


def r(template: str, env: dict[str, str] | None = None, exports: dict[str, str] | None = None) -> str:
    return render(
        template, endpoints=ENDPOINTS, default_ports={"postgres": 5432}, env=env or {}, exports=exports or {}
    )


def test_service_host_and_port() -> None:
    assert r("postgresql://u@{postgres.host}:{postgres.port:5432}/db") == "postgresql://u@127.0.0.1:49001/db"


def test_default_port_is_the_checked_port() -> None:
    assert r("{postgres.port}") == "49001"


def test_env_and_export_and_literal_braces() -> None:
    assert r("{env.USER}-{export.A}-{{x}}", env={"USER": "me"}, exports={"A": "a"}) == "me-a-{x}"


def test_unpublished_port_says_how_to_publish() -> None:
    with pytest.raises(TemplateError, match=r'add "127.0.0.1::9999" under its ports'):
        r("{postgres.port:9999}")


def test_unknown_service_at_render() -> None:
    with pytest.raises(TemplateError, match="service 'redis' is not running"):
        r("{redis.host}")


def test_refs_rejects_garbage() -> None:
    with pytest.raises(TemplateError, match="cannot read"):
        refs("{not a ref}")
    assert refs("{a.port:1}") and refs("{env.X}")[0].scope == "env"
