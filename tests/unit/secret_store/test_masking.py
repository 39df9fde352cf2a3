"""Masking: a value is known to REDACTOR in every form it takes, and announced to Actions."""

from __future__ import annotations

import html
import io
import json
import secrets as random
import subprocess
import sys
from pathlib import Path

import pytest

from ci_toolkit import secret_store
from ci_toolkit.config.secret_params import SecretParam, SecretsConfig
from ci_toolkit.errors import SecretNotFound, UsageError
from ci_toolkit.pipeline.pytest_run import redact_outputs
from ci_toolkit.redact import REDACTOR
from ci_toolkit.secret_store.ssm import env_name


def planted() -> str:
    return f"pl-{random.token_hex(6)}&<\"q'>\\%z"


def test_every_encoded_form_is_masked() -> None:
    value = planted()
    secret_store.protect(value)
    for form in (value, html.escape(value), json.dumps(value), repr(value), f"<x a={html.escape(value)}/>"):
        assert value not in REDACTOR(form) and "***" in REDACTOR(form), form
    assert REDACTOR(json.dumps({"v": value})) == '{"v": "***"}'


def test_multiline_values_mask_line_by_line() -> None:
    value = f"-----BEGIN-{random.token_hex(4)}-----\nline-{random.token_hex(4)}\n-----END-----"
    secret_store.protect(value)
    for line in value.splitlines():
        assert REDACTOR(f"log: {line}") == "log: ***"


def test_add_mask_only_in_actions_escaped_and_per_line() -> None:
    value = f"v-{random.token_hex(4)}%\r"
    quiet = io.StringIO()
    secret_store.protect(value, quiet, environ={})
    assert quiet.getvalue() == ""
    stream = io.StringIO()
    secret_store.protect(value, stream, environ={"GITHUB_ACTIONS": "true"})
    assert stream.getvalue() == f"::add-mask::{value[:-2]}%25%0D\n"
    stream = io.StringIO()
    secret_store.protect("first-line\nsecond-line", stream, environ={"GITHUB_ACTIONS": "true"})
    assert stream.getvalue() == "::add-mask::first-line\n::add-mask::second-line\n"


def test_files_pytest_wrote_are_rewritten_binary_ones_left_alone(tmp_path: Path) -> None:
    value = planted()
    secret_store.protect(value)
    (tmp_path / "htmlcov").mkdir()
    (tmp_path / "junit.xml").write_text(f"<system-out>key={html.escape(value)}</system-out>")
    (tmp_path / "htmlcov" / "index.html").write_text(f"<p>{value}</p>")
    binary = b"\xff\xfe" + value.encode()
    (tmp_path / ".coverage").write_bytes(binary)
    redact_outputs(tmp_path)
    assert (tmp_path / "junit.xml").read_text() == "<system-out>key=***</system-out>"
    assert (tmp_path / "htmlcov" / "index.html").read_text() == "<p>***</p>"
    assert (tmp_path / ".coverage").read_bytes() == binary


def test_from_env_and_file_resolve_without_aws(tmp_path: Path) -> None:
    cfg = SecretsConfig(
        params=(SecretParam("API_KEY", "/ci/test/api_key"), SecretParam("OPT", "/ci/test/opt", optional=True))
    )
    value = planted()
    res = secret_store.resolve(cfg, "environment", environ={"API_KEY": value})
    assert res.values == {"API_KEY": value} and not res.problems
    assert [(e.env, e.status) for e in res.entries] == [("API_KEY", "ok"), ("OPT", "skipped")]
    assert value not in json.dumps([e.to_dict() for e in res.entries])

    missing = secret_store.resolve(cfg, "environment", environ={})
    with pytest.raises(SecretNotFound, match="API_KEY is not set in the environment"):
        missing.raise_if_failed()

    env_file = tmp_path / "ci.env"
    env_file.write_text(f"API_KEY={json.dumps(value)}\nEXTRA=also-given\n")  # "..." escapes as JSON
    res = secret_store.resolve(cfg, f"file {env_file}", file=env_file)
    assert res.values == {"API_KEY": value, "EXTRA": "also-given"}
    assert [e.origin for e in res.entries if e.status == "ok"] == ["ci.env:1", "ci.env:2"]


def test_the_two_offline_sources_exclude_each_other(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="exclude each other"):
        secret_store.source_label(True, tmp_path / "x.env")


def test_leaf_names_become_variable_names() -> None:
    assert env_name("/team/test/svc/db-password") == "DB_PASSWORD"
    assert env_name("/team/test/svc/sub/api.key") == "API_KEY"
    assert env_name("/x/1st") == "_1ST"


def test_secrets_help_imports_no_boto3() -> None:
    code = (
        "import sys, json\n"
        "from ci_toolkit.cli import app\n"
        "try:\n"
        "    app(['secrets', 'check', '--help'], standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out.strip().splitlines()[-1]))
    assert "--secrets-from-env" in out and "--secrets-file" in out
    assert not [m for m in loaded if m.split(".")[0] in ("boto3", "botocore")]
