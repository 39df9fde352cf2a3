"""What pipeline.artifacts writes is redacted by value and, for JSON, by key (real files, real
child processes recorded by proc)."""

from __future__ import annotations

import json
import secrets as random
import sys
from pathlib import Path

from ci_toolkit import proc
from ci_toolkit.pipeline import artifacts
from ci_toolkit.redact import REDACTOR


def test_json_artifacts_are_masked_by_key_before_serialising(tmp_path: Path) -> None:
    password = f'p"{random.token_hex(4)}\\ö'  # JSON escaping changes its bytes
    REDACTOR.add(password)
    data = {"Config": {"Env": ["API_TOKEN=Zq7xK9w", f"NOTE={password}"]}, "path": tmp_path}
    text = artifacts.write_json(tmp_path / "inspect.json", [data]).read_text()
    written = json.loads(text)
    assert written == [{"Config": {"Env": ["API_TOKEN=***", "NOTE=***"]}, "path": str(tmp_path)}]
    assert "Zq7xK9w" not in text and json.dumps(password)[1:-1] not in text


def test_compose_config_output_is_learned_when_recorded_and_redacted_by_key(tmp_path: Path) -> None:
    stripe, short = f"sk_test_{random.token_hex(8)}", "abc1234"
    model = {"services": {"api": {"environment": {"STRIPE_KEY": stripe, "API_TOKEN": short, "MODE": "ci"}}}}
    script = f"import json; print(json.dumps({model!r}, indent=2))"
    proc.run([sys.executable, "-c", script, "--api-key=cli-secret-value"])
    # Learned at record time: a log written later masks the value too.
    log = artifacts.write_text(tmp_path / "logs" / "api.log", f"charging with {stripe}\n")
    assert log.read_text() == "charging with ***\n"
    artifacts.write_commands(tmp_path)
    text = (tmp_path / "commands.json").read_text()
    (record,) = [r for r in json.loads(text) if "--api-key" in r["cmd"]]
    assert json.loads(record["stdout"]) == {
        "services": {"api": {"environment": {"STRIPE_KEY": "***", "API_TOKEN": "***", "MODE": "ci"}}}
    }
    assert "--api-key=***" in record["cmd"]
    assert stripe not in text and short not in text and "cli-secret-value" not in text


def test_env_snapshot_is_written_masked(tmp_path: Path) -> None:
    artifacts.write_env_snapshot(tmp_path, {"SESSION_COOKIE": "c", "APP_DSN_URL": "x://u:pw-12345@h"})
    env = json.loads((tmp_path / "env.json").read_text())
    assert env["SESSION_COOKIE"] == "***" and env["APP_DSN_URL"] in ("***", "x://u:***@h")
