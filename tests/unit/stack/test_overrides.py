"""`start` and `ports = "dynamic"` as the model and the override file carry them (no docker:
the compose model here is what `docker compose config --format json` renders)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_toolkit.config import ServiceCheck
from ci_toolkit.errors import ConfigError, ExitCode
from ci_toolkit.stack import compose, selection


def _port(target: int, published: str = "", protocol: str = "tcp", **extra: Any) -> dict[str, Any]:
    return {"mode": "ingress", "target": target, "published": published, "protocol": protocol, **extra}


MODEL: dict[str, Any] = {
    "name": "dev",
    "services": {
        "api": {"image": "acme/api", "depends_on": {"cache": {"condition": "service_started"}}},
        "cache": {"image": "redis:7", "depends_on": {"db": {"condition": "service_healthy"}}},
        "db": {
            "image": "postgres:15",
            "ports": [
                _port(5432, "5432"),
                {**_port(5432, "15432"), "host_ip": "0.0.0.0"},
                _port(5433, "5433", "udp", app_protocol="pg", name="stats"),
            ],
        },
        "kafka": {
            "image": "confluentinc/cp-kafka:7.6.0",
            "ports": [_port(9092, "9092")],
            "depends_on": ["db"],
        },
        "sidecar": {"image": "redis:7", "network_mode": "service:cache", "ports": [_port(1, "1")]},
    },
    "volumes": {"data": {}},
}


def test_closure_follows_depends_on_transitively_in_model_order() -> None:
    assert selection.closure(MODEL, ["api"]) == ["api", "cache", "db"]
    assert selection.closure(MODEL, ["kafka"]) == ["db", "kafka"]  # the short (list) form too
    assert selection.closure(MODEL, ["db", "db"]) == ["db"]


def test_defaults_leave_the_model_as_compose_rendered_it() -> None:
    assert selection.effective(MODEL, (), "as-written") == MODEL
    assert selection.started(MODEL) == () and not selection.dynamic_ports(MODEL)


def test_start_keeps_the_chosen_services_and_their_dependencies() -> None:
    model = selection.effective(MODEL, ("cache",), "as-written")
    assert list(model["services"]) == ["cache", "db"]
    assert selection.started(model) == ("cache", "db")
    assert model["services"]["db"]["ports"] == MODEL["services"]["db"]["ports"]  # as written
    assert model["volumes"] == MODEL["volumes"]


def test_dynamic_ports_are_on_loopback_with_no_host_port_and_keep_their_protocol() -> None:
    model = selection.effective(MODEL, (), "dynamic")
    assert model["services"]["db"]["ports"] == [
        {"mode": "ingress", "host_ip": "127.0.0.1", "target": 5432, "protocol": "tcp"},  # one per target
        {
            "mode": "ingress",
            "host_ip": "127.0.0.1",
            "target": 5433,
            "protocol": "udp",
            "app_protocol": "pg",
            "name": "stats",
        },
    ]
    assert model["services"]["sidecar"] == MODEL["services"]["sidecar"]  # shares cache's network
    assert selection.dynamic_ports(model) and selection.started(model) == ()
    assert MODEL["services"]["db"]["ports"][0]["published"] == "5432"  # the input is not changed


def test_an_unknown_name_is_a_config_error_naming_the_files_with_a_did_you_mean() -> None:
    error = selection.unknown_error(
        MODEL, ["cahce", "api", "zzz"], [Path("compose.yaml"), Path("compose.dev.yaml")], Path("ci.toml")
    )
    assert isinstance(error, ConfigError) and error.exit_code == ExitCode.CONFIG
    text = str(error)
    assert "ci.toml: start: no such service in compose.yaml, compose.dev.yaml" in text
    assert "'cahce' (did you mean 'cache'?); 'zzz'" in text and "'api'" not in text.split("(services")[0]
    assert "(services: api, cache, db, kafka, sidecar)" in text


def test_checks_of_services_not_started_are_skipped_with_a_line() -> None:
    checks = {name: ServiceCheck(name=name, kind="tcp", port=1, timeout=5) for name in ("db", "kafka")}
    lines: list[str] = []
    kept = selection.started_checks(checks, selection.effective(MODEL, ("cache",), "dynamic"), lines.append)
    assert list(kept) == ["db"]
    assert lines == ["    kafka: readiness check skipped: not started (this run starts cache, db)"]
    assert selection.started_checks(checks, MODEL, lines.append) == checks  # nothing chosen: all


class _Tagged(yaml.SafeLoader):
    """Reads `!override` as compose does: the list that replaces the one before it."""


_Tagged.add_constructor("!override", lambda loader, node: {"!override": loader.construct_sequence(node)})


def test_the_owner_override_replaces_ports_only_when_dynamic(tmp_path: Path) -> None:
    labels = {"io.ci-toolkit.run": 'a"b: c\n#d'}  # quoting survives
    path = compose.write_owner_override(tmp_path / "compose.owner.json", MODEL, labels)
    assert path.name == "compose.owner.json"  # as written: JSON, labels only
    assert json.loads(path.read_text())["services"]["db"] == {"labels": labels}

    model = selection.effective(MODEL, ("cache",), "dynamic")
    path = compose.write_owner_override(tmp_path / "compose.owner.json", model, labels)
    assert path.name == "compose.owner.yaml"
    data = yaml.load(path.read_text(), Loader=_Tagged)  # SafeLoader plus the one tag
    assert set(data["services"]) == {"cache", "db"}  # only what is started is labelled
    assert data["services"]["cache"] == {"labels": labels}  # no ports: nothing to replace
    assert data["services"]["db"]["ports"] == {"!override": model["services"]["db"]["ports"]}
    assert data["volumes"] == {"data": {"labels": labels}}


@pytest.mark.parametrize("value", ["plain", "", "x: y", "- a", "'q'", "\\back", "é ✓", "#no-comment"])
def test_yaml_leaves_are_json_scalars(value: str) -> None:
    text = selection.to_yaml({"services": {value or "e": {"labels": {"k": value}}}})
    assert yaml.safe_load(text) == {"services": {value or "e": {"labels": {"k": value}}}}
