"""Suites and matrix cells as whole `integration-run`s on the real engine, and `report merge` of cells."""

from __future__ import annotations

import json
import secrets
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import REPO, CliResult, assert_no_leaks, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]

SMOKE = {
    "test_migrations_created_and_seeded_the_schema",
    "test_unknown_customer_is_rejected",
    "test_redis_set_get",
    "test_postgres_server_version",
}
NOT_SMOKE = {"test_order_total_is_cached_in_redis", "test_order_event_round_trips_through_jetstream"}


def outcomes(run_dir: Path) -> dict[str, str]:
    """Test name -> passed | failed | error | skipped, from the run's JUnit XML."""
    out = {}
    for case in ET.parse(run_dir / "junit.xml").getroot().iter("testcase"):
        result = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed")
        out[case.get("name", "")] = {"failure": "failed"}.get(result, result)
    return out


def integration_run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[CliResult, dict, Path]:  # type: ignore[type-arg]
    project = f"sm-{secrets.token_hex(4)}"
    result = run_cli(["integration-run", "--json", "--project", project, *args], cwd, env)
    data = result.json()
    assert data["project"] == project
    return result, data, Path(data["artifacts_dir"])


def test_smoke_suite_of_the_bundled_example_runs_only_smoke_tests(tmp_path: Path) -> None:
    # The bundled config (pyproject.toml): its smoke suite has its own coverage threshold.
    result, data, run_dir = integration_run(REPO, "--suite", "smoke", "--artifacts-dir", str(tmp_path))
    assert result.returncode == 0, result.output
    assert data["status"] == "passed" and data["coverage_percent"] is not None
    ran = outcomes(run_dir)
    assert {name for name, outcome in ran.items() if outcome == "passed"} == SMOKE
    assert not NOT_SMOKE & set(ran)  # deselected by -m, so not even in the JUnit XML
    assert "-m 'not slow and not destructive'" in result.stderr  # the pytest command line, in the progress
    selection = json.loads((run_dir / "selection.json").read_text())
    assert selection["suite"] == "smoke"
    assert_no_leaks(data["project"])


def test_unknown_suite_is_a_config_error_that_starts_nothing(example_project: Path) -> None:
    result, data, _ = integration_run(example_project, "--suite", "smokey")
    assert result.returncode == 2, result.output
    assert "unknown suite 'smokey' (did you mean 'smoke'?)" in data["message"]
    assert data["phases"] == []
    assert_no_leaks(data["project"])


def test_autoload_off_with_two_workers_and_a_test_timeout_still_passes(example_project: Path) -> None:
    result, data, run_dir = integration_run(
        example_project,
        "--suite",
        "smoke",
        "--workers",
        "2",
        "--test-timeout",
        "120",
        env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert result.returncode == 0, result.output
    assert data["tests"]["passed"] == len(SMOKE) and data["coverage_percent"] > 0  # pytest-cov under xdist
    (command,) = [line for line in result.stderr.splitlines() if line.startswith("$ ") and " pytest " in line]
    assert "-p xdist" in command and "-p timeout" in command and "-n 2" in command
    assert "bringing up nodes" in (run_dir / "pytest.log").read_text()
    assert_no_leaks(data["project"])


def test_one_run_per_matrix_cell_sees_its_postgres_version_then_merge(
    example_project: Path, tmp_path: Path
) -> None:
    runs: dict[str, tuple[CliResult, dict, Path]] = {}  # type: ignore[type-arg]

    def cell(image: str) -> None:
        entry = json.dumps({"POSTGRES_IMAGE": image, "suite": "smoke"})
        runs[image] = integration_run(example_project, env={"CI_TOOLKIT_MATRIX_ENTRY": entry})

    threads = [threading.Thread(target=cell, args=(image,)) for image in ("postgres:15", "postgres:17")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for image, major in (("postgres:15", "15"), ("postgres:17", "17")):
        result, data, run_dir = runs[image]
        assert result.returncode == 0, result.output
        # The example test compared the live server's major version with the cell's expectation.
        assert outcomes(run_dir)["test_postgres_server_version"] == "passed"
        selection = json.loads((run_dir / "selection.json").read_text())
        assert selection["cell"]["EXPECT_POSTGRES_MAJOR"] == major
        assert selection["cell"]["name"] == f"{image} / smoke"
        images = {
            c["Config"]["Labels"]["com.docker.compose.service"]: c["Config"]["Image"]
            for c in json.loads((run_dir / "inspect.json").read_text())
        }
        assert images["postgres"] == image
        assert_no_leaks(data["project"])
    summary = tmp_path / "summary.md"
    merged = run_cli(
        ["report", "merge", *(str(runs[i][2]) for i in sorted(runs)), "--output", str(summary)],
        example_project,
    )
    assert merged.returncode == 0, merged.output
    assert "## Integration matrix: 2 of 2 cells passed" in merged.stdout
    assert "| postgres:15 / smoke | ✅ passed | 4 |" in merged.stdout
    assert "| postgres:17 / smoke | ✅ passed | 4 |" in merged.stdout
    assert summary.read_text() == merged.stdout


def test_matrix_entry_with_an_unknown_value_is_an_error_naming_the_values(example_project: Path) -> None:
    result, data, _ = integration_run(example_project, "--matrix-entry", '{"POSTGRES_IMAGE": "postgres:16"}')
    assert result.returncode == 2, result.output
    assert "'postgres:16' is not a value of POSTGRES_IMAGE" in data["message"]
    assert "postgres:15, postgres:17" in data["message"]
    assert_no_leaks(data["project"])


def test_tier3_test_command_takes_a_suite(example_project: Path) -> None:
    project = f"sm-{secrets.token_hex(4)}"
    try:
        up = run_cli(["stack", "up", "--project", project], example_project)
        assert up.returncode == 0, up.output
        assert run_cli(["migrate"], example_project).returncode == 0
        smoke = run_cli(["test", "--json", "--suite", "smoke", "--workers", "2"], example_project)
        assert smoke.returncode == 0, smoke.output
        assert smoke.json()["tests"]["passed"] == len(SMOKE)
        typo = run_cli(["test", "--suite", "ful"], example_project)
        assert typo.returncode == 2 and "unknown suite 'ful' (did you mean 'full'?)" in typo.stderr
    finally:
        run_cli(["stack", "down", "--project", project], example_project)
    assert_no_leaks(project)
