"""`{worker}` and `{worker.index}`: parsed at load like every field, rendered per pytest process,
allowed in [export] only; ci-toolkit's own connection (migrations.dsn) may not depend on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_toolkit.config.templates import (
    MAIN,
    Endpoint,
    TemplateError,
    Worker,
    per_worker,
    refs,
    render,
    worker_fields,
)
from tests.conftest import EXAMPLE_CONFIG, config_error, load_config_text

ENDPOINTS = {"postgres": Endpoint("127.0.0.1", {5432: 49001}), "worker": Endpoint("127.0.0.1", {80: 49003})}
DB_URL = "postgresql://test:test@{postgres.host}:{postgres.port:5432}/app"
SHARED_DSN = 'dsn = "{export.DATABASE_URL}"'


def r(template: str, worker: Worker | None = MAIN, exports: dict[str, str] | None = None) -> str:
    return render(
        template,
        endpoints=ENDPOINTS,
        default_ports={"postgres": 5432},
        env={},
        exports=exports or {},
        worker=worker,
    )


def test_worker_name_and_index_per_process() -> None:
    template = f"{DB_URL}_{{worker}}|redis://h/{{worker.index}}|t_{{ worker }}"
    assert r(template, Worker.xdist(1)) == "postgresql://test:test@127.0.0.1:49001/app_gw1|redis://h/1|t_gw1"
    assert r(template) == "postgresql://test:test@127.0.0.1:49001/app_main|redis://h/0|t_main"


def test_worker_fields_are_not_references_to_the_stack() -> None:
    template = "{postgres.host}/{worker}/{worker.index}/{{worker}}"
    assert [ref.scope for ref in refs(template)] == ["postgres"]
    assert worker_fields(template) == {"worker", "worker.index"}
    assert r("{{worker}}") == "{worker}"  # literal braces stay literal


def test_a_service_named_worker_keeps_its_host_and_port() -> None:
    assert [(ref.scope, ref.attr) for ref in refs("{worker.host}:{worker.port:80}")] == [
        ("worker", "host"),
        ("worker", "port"),
    ]
    assert r("{worker.host}:{worker.port:80}") == "127.0.0.1:49003"


@pytest.mark.parametrize("typo", ["{worker.idx}", "{workers}", "{worker.index:1}", "{Worker}"])
def test_a_misspelt_worker_field_is_an_error(typo: str) -> None:
    with pytest.raises(TemplateError):
        refs(typo)


def test_where_no_worker_applies_a_worker_field_is_an_error() -> None:
    with pytest.raises(TemplateError, match=r"\{worker\}: only an \[export\] can differ per worker"):
        r("app_{worker}", worker=None)


def test_per_worker_follows_exports_through_each_other() -> None:
    exports = {
        "NATS_PREFIX": "t_{worker}",
        "PLAIN": "nats://{nats.host}",
        "SUBJECT": "{export.NATS_PREFIX}.orders",
        "DEEPER": "{export.SUBJECT}>",
        "INDEX": "redis://h/{worker.index}",
    }
    assert per_worker(exports) == {
        "NATS_PREFIX": "{worker}",
        "SUBJECT": "{export.NATS_PREFIX}, which uses {worker}",
        "DEEPER": "{export.SUBJECT}, which uses {export.NATS_PREFIX}, which uses {worker}",
        "INDEX": "{worker.index}",
    }
    assert set(per_worker(exports, ("worker.index",))) == {"INDEX"}


def per_worker_config(dsn: str = SHARED_DSN) -> str:
    text = EXAMPLE_CONFIG.replace('/app"', '/app_{worker}"').replace('/0"', '/{worker.index}"')
    return text.replace(SHARED_DSN, dsn)


def test_the_exports_may_use_worker_fields(tmp_path: Path) -> None:
    cfg = load_config_text(tmp_path, per_worker_config(f'dsn = "{DB_URL}"'))
    assert cfg.export["DATABASE_URL"].endswith("/app_{worker}")
    assert cfg.export["REDIS_URL"].endswith("/{worker.index}")


def test_a_migrations_dsn_through_a_per_worker_export_is_a_config_error_saying_what_to_write(
    tmp_path: Path,
) -> None:
    message = config_error(tmp_path, per_worker_config())
    assert "migrations.dsn: uses {export.DATABASE_URL}, which uses {worker}" in message
    assert "migrations run once, on the database each worker's copy is made from" in message
    assert f'e.g. dsn = "{DB_URL}"' in message  # the export written out, its worker part cut


def test_a_migrations_dsn_with_its_own_worker_field_is_a_config_error(tmp_path: Path) -> None:
    message = config_error(tmp_path, per_worker_config(f'dsn = "{DB_URL}_{{worker.index}}"'))
    assert "migrations.dsn: uses {worker.index}" in message and f'e.g. dsn = "{DB_URL}"' in message


def test_a_typo_in_an_export_worker_field_fails_at_load(tmp_path: Path) -> None:
    text = EXAMPLE_CONFIG.replace('/app"', '/app_{worker.name}"')
    message = config_error(tmp_path, text)
    assert "export.DATABASE_URL: {worker.name}: a worker has {worker}" in message
