"""Whole `integration-run`s with secrets: from SSM (moto's server on 127.0.0.1, see
tests/aws_fixtures.py), without any AWS (optional secret skipped), from a `.env` file — and the
leak test: a planted value appears nowhere ci-toolkit prints or writes, even when a test
prints it and fails."""

from __future__ import annotations

import html
import json
import secrets as random
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.aws_fixtures import MotoServer, moto_server, run_toolkit
from tests.conftest import CliResult, assert_no_leaks, engine_events

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

# Characters that XML, JSON, HTML and Python reprs each escape differently.
PLANTED = f"sk-{random.token_hex(8)}&<\"q'>\\z"
EXAMPLE_TEST = "test_api_key_comes_from_parameter_store"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        server.put("/ci/test/api_key", PLANTED)
        yield server


def integration_run(
    project_dir: Path, tmp_path: Path, env: dict[str, str], *args: str, events: list[str] | None = None
) -> tuple[CliResult, dict]:  # type: ignore[type-arg]
    """The run's result; `events`, if given, receives the engine's events for its project."""
    project = f"sec-{random.token_hex(4)}"
    with engine_events(project) as seen:
        result = run_toolkit(
            [
                "integration-run",
                "--json",
                "--project",
                project,
                "--artifacts-dir",
                str(tmp_path / "art"),
                *args,
            ],
            project_dir,
            env,
        )
    if events is not None:
        events.extend(seen)
    data = result.json()
    assert data["project"] == project
    return result, data


def outcome(run_dir: Path, test_name: str) -> str:
    for case in ET.parse(run_dir / "junit.xml").getroot().iter("testcase"):
        if case.get("name") == test_name:
            tags = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            return tags[0] if tags else "passed"
    raise AssertionError(f"{test_name} is not in junit.xml")


def phase(data: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(p for p in data["phases"] if p["name"] == name)


def test_api_key_from_ssm_reaches_the_tests(moto: MotoServer, example_project: Path, tmp_path: Path) -> None:
    events: list[str] = []
    result, data = integration_run(
        example_project, tmp_path, {**moto.env(), "EXPECT_API_KEY": PLANTED}, events=events
    )
    assert result.returncode == 0, result.output
    assert [p["name"] for p in data["phases"]][:3] == ["validate", "secrets", "up"]
    assert phase(data, "secrets")["detail"] == "1 from SSM (us-east-1, credentials: env)"
    assert outcome(Path(data["artifacts_dir"]), EXAMPLE_TEST) == "passed"
    assert "API_KEY: ok (ssm /ci/test/api_key): SecureString" in result.stderr
    assert "container create" in events  # what the no-container checks in test_secrets_errors would see
    assert_no_leaks(data["project"])


def test_without_any_aws_the_optional_secret_is_skipped_and_the_run_passes(
    example_project: Path, tmp_path: Path
) -> None:
    """The README's main job on a machine with no AWS at all."""
    result, data = integration_run(example_project, tmp_path, {})
    assert result.returncode == 0, result.output
    secrets_phase = phase(data, "secrets")
    assert secrets_phase["status"] == "ok"
    assert secrets_phase["detail"] == "API_KEY not set (optional; no AWS credentials found)"
    assert outcome(Path(data["artifacts_dir"]), EXAMPLE_TEST) == "skipped"
    assert_no_leaks(data["project"])


def test_secrets_file_gives_the_value_offline(example_project: Path, tmp_path: Path) -> None:
    value = f"from-file-{random.token_hex(6)}"
    (example_project / "ci.env").write_text(f"API_KEY='{value}'\n")
    result, data = integration_run(
        example_project, tmp_path, {"EXPECT_API_KEY": value}, "--secrets-file", "ci.env"
    )
    assert result.returncode == 0, result.output
    assert phase(data, "secrets")["detail"] == f"1 from file {example_project / 'ci.env'}"
    assert outcome(Path(data["artifacts_dir"]), EXAMPLE_TEST) == "passed"
    assert value not in result.output
    assert_no_leaks(data["project"])


LEAKY_TEST = """
import os
import sys


def test_prints_the_key_and_fails():
    key = os.environ["API_KEY"]
    print("stdout: the key is", key)
    print("stderr: the key is", key, file=sys.stderr)
    assert key == "not the key"
"""


def test_planted_secret_never_leaks_even_when_a_test_prints_it_and_fails(
    moto: MotoServer, example_project: Path, tmp_path: Path
) -> None:
    (example_project / "example" / "tests" / "test_leaky.py").write_text(LEAKY_TEST)
    summary, outputs = tmp_path / "summary.md", tmp_path / "outputs.txt"
    env = {
        **moto.env(),
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_WORKSPACE": str(example_project),
        "EXPECT_API_KEY": PLANTED,
    }
    result, data = integration_run(example_project, tmp_path, env, "--diagnostics", "always")
    assert result.returncode == 1, result.output
    assert data["status"] == "tests_failed" and data["tests"]["failed"] == 1
    run_dir = Path(data["artifacts_dir"])
    assert outcome(run_dir, EXAMPLE_TEST) == "passed"  # the tests did get the real value
    assert "stdout: the key is ***" in (run_dir / "pytest.log").read_text()  # ... and printed it

    forms = {PLANTED, html.escape(PLANTED), json.dumps(PLANTED)[1:-1], repr(PLANTED)[1:-1]}

    def leaks(text: str) -> int:
        return sum(text.count(form) for form in forms)

    # The one sanctioned appearance: `::add-mask::` tells the runner to hide it, before anything else.
    masks = [line for line in result.stderr.splitlines() if line.startswith("::add-mask::")]
    assert masks == [f"::add-mask::{PLANTED}"]
    progress = "\n".join(line for line in result.stderr.splitlines() if not line.startswith("::add-mask::"))
    assert leaks(result.stdout) == 0 and leaks(progress) == 0
    files = [p for root in (tmp_path / "art", example_project) for p in root.rglob("*") if p.is_file()]
    files += [summary, outputs]
    assert summary.is_file() and (run_dir / "junit.xml").is_file() and (run_dir / "coverage.xml").is_file()
    leaked = {}
    for path in files:
        count = leaks(path.read_bytes().decode("utf-8", "replace"))
        if count:
            leaked[str(path)] = count
    assert leaked == {}
    assert len(files) > 20, files  # logs, junit, coverage, htmlcov, run.json, diagnostics, summary ...
    assert_no_leaks(data["project"])
