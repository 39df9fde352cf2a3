"""The worker plan (`pipeline/workers.py`) and how the pytest plugin gives each xdist worker its own
values: real pytest subprocesses with `-p ci_toolkit.pytest_plugin -n 2`, no Docker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.config.templates import Endpoint
from ci_toolkit.errors import UsageError
from ci_toolkit.pipeline import selection, workers
from ci_toolkit.pipeline.context import RunOptions
from tests.conftest import EXAMPLE_CONFIG, load_config_text

OWN_DATA = (
    EXAMPLE_CONFIG.replace('/app"', '/app_{worker}"')
    .replace('/0"', '/{worker.index}"')
    .replace('dsn = "{export.DATABASE_URL}"', 'dsn = "postgresql://test:test@{postgres.host}/app"')
)
SERVICES = {
    "postgres": Endpoint("127.0.0.1", {5432: 49001}),
    "redis": Endpoint("127.0.0.1", {6379: 49002}),
    "nats": Endpoint("127.0.0.1", {4222: 49003, 8222: 49004}),
}


def test_each_xdist_worker_gets_its_own_values_of_the_per_worker_exports(tmp_path: Path) -> None:
    cfg = load_config_text(tmp_path, OWN_DATA)
    made = workers.plan(cfg, "2")
    assert made.names == "gw0, gw1" and made.clone and set(made.varying) == {"DATABASE_URL", "REDIS_URL"}
    table = json.loads(workers.environment(made, cfg, SERVICES, {})[workers.ENV])
    assert table == {
        "gw0": {
            "DATABASE_URL": "postgresql://test:test@127.0.0.1:49001/app_gw0",
            "REDIS_URL": "redis://127.0.0.1:49002/0",
        },
        "gw1": {
            "DATABASE_URL": "postgresql://test:test@127.0.0.1:49001/app_gw1",
            "REDIS_URL": "redis://127.0.0.1:49002/1",
        },
    }
    assert [workers.clone_name("app", w) for w in made.workers] == ["app_gw0", "app_gw1"]


def test_without_xdist_main_is_the_ordinary_environment_and_no_worker_is_planned(tmp_path: Path) -> None:
    cfg = load_config_text(tmp_path, OWN_DATA)
    made = workers.plan(cfg, None)
    assert made.names == "main" and not made.xdist and made.clone
    assert workers.environment(made, cfg, SERVICES, {}) == {workers.ENV: "{}"}  # an unplanned -n is refused


def test_exports_that_do_not_vary_need_nothing(tmp_path: Path) -> None:
    cfg = load_config_text(tmp_path, EXAMPLE_CONFIG)
    made = workers.plan(cfg, "2")
    assert not made.varying and not made.clone
    assert workers.environment(made, cfg, SERVICES, {}) == {}


def test_only_worker_index_copies_no_database(tmp_path: Path) -> None:
    cfg = load_config_text(tmp_path, EXAMPLE_CONFIG.replace('/0"', '/{worker.index}"'))
    made = workers.plan(cfg, "3")
    assert set(made.varying) == {"REDIS_URL"} and not made.clone


def test_more_workers_than_redis_databases_is_refused_before_anything_starts(tmp_path: Path) -> None:
    cfg = load_config_text(tmp_path, OWN_DATA)
    assert workers.plan(cfg, "16").names.endswith("gw15")
    with pytest.raises(
        UsageError, match=r"--workers 17: export.REDIS_URL gives each worker a Redis database"
    ):
        selection.apply(cfg, RunOptions(), selection.Choice(workers="17"))


def test_a_copy_name_over_postgres_length_limit_is_refused(tmp_path: Path) -> None:
    cfg = load_config_text(tmp_path, OWN_DATA.replace('database = "app"', f'database = "{"d" * 60}"'))
    with pytest.raises(UsageError, match=r"longer than 63 bytes"):
        workers.plan(cfg, "2")


def test_auto_is_counted_by_ci_toolkit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    assert selection.check_workers("auto") == str(len(os.sched_getaffinity(0)))
    assert selection.check_workers("logical") == str(len(os.sched_getaffinity(0)))
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "3")  # as xdist itself honours it
    assert selection.check_workers("AUTO") == "3"
    assert selection.check_workers("04") == "4"


# The plugin, in real pytest processes.

CONFTEST = """
import os
SEEN_AT_IMPORT = os.environ.get("DATABASE_URL")  # what a conftest's module-level code sees
"""
TESTS = """
import json, os, pathlib
import pytest
import conftest


@pytest.mark.parametrize("n", range(4))
def test_report(n):
    crash = os.environ.get("CRASH_MARKER")
    if crash and os.environ.get("PYTEST_XDIST_WORKER") == "gw0" and not pathlib.Path(crash).exists():
        pathlib.Path(crash).write_text("crashed")
        os._exit(1)  # the worker dies; xdist starts a replacement with a new id
    seen = {k: os.environ.get(k) for k in ("PYTEST_XDIST_WORKER", "CI_TOOLKIT_WORKER",
            "CI_TOOLKIT_WORKER_INDEX", "DATABASE_URL", "PLAIN")}
    seen["conftest"] = conftest.SEEN_AT_IMPORT
    with open(os.environ["REPORT"], "a") as fh:
        fh.write(json.dumps(seen) + "\\n")
"""
TABLE = {"gw0": {"DATABASE_URL": "db_gw0"}, "gw1": {"DATABASE_URL": "db_gw1"}}


def clean_env() -> dict[str, str]:
    """This process's environment without what the pytest running these tests set."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("CI_TOOLKIT_", "PYTEST_"))}


def run_pytest(tmp_path: Path, *args: str, env: dict[str, str], **kwargs: Any) -> tuple[int, str, list[dict]]:  # type: ignore[type-arg]
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_report.py").write_text(TESTS)
    report = tmp_path / "report.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "ci_toolkit.pytest_plugin", *args],
        cwd=tmp_path,
        env={**clean_env(), "PLAIN": "same", "DATABASE_URL": "db_main", "REPORT": str(report), **env},
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )
    lines = report.read_text().splitlines() if report.exists() else []
    return done.returncode, done.stdout + done.stderr, [json.loads(line) for line in lines]


def test_each_worker_has_its_values_before_any_conftest_is_imported(tmp_path: Path) -> None:
    code, output, seen = run_pytest(tmp_path, "-p", "xdist", "-n", "2", env={workers.ENV: json.dumps(TABLE)})
    assert code == 0, output
    by_worker = {s["PYTEST_XDIST_WORKER"]: s for s in seen}
    assert set(by_worker) == {"gw0", "gw1"}
    for name, index in (("gw0", "0"), ("gw1", "1")):
        assert (
            by_worker[name]["CI_TOOLKIT_WORKER"] == name
            and by_worker[name]["CI_TOOLKIT_WORKER_INDEX"] == index
        )
        assert by_worker[name]["DATABASE_URL"] == f"db_{name}" == by_worker[name]["conftest"]
        assert by_worker[name]["PLAIN"] == "same"  # what does not vary is the ordinary environment


def test_without_xdist_the_process_is_main_with_the_ordinary_values(tmp_path: Path) -> None:
    code, output, seen = run_pytest(tmp_path, env={workers.ENV: "{}"})
    assert code == 0, output
    assert {(s["CI_TOOLKIT_WORKER"], s["CI_TOOLKIT_WORKER_INDEX"], s["DATABASE_URL"]) for s in seen} == {
        ("main", "0", "db_main")
    }


def test_more_xdist_workers_than_ci_toolkit_planned_is_a_usage_error(tmp_path: Path) -> None:
    code, output, seen = run_pytest(tmp_path, "-p", "xdist", "-n", "3", env={workers.ENV: json.dumps(TABLE)})
    assert code == 4 and not seen, output
    assert "pytest would start 3 xdist workers, and ci-toolkit gave 2 their own data" in output
    code, output, _ = run_pytest(tmp_path, "-p", "xdist", "-n", "2", env={workers.ENV: "{}"})
    assert code == 4 and "ci-toolkit gave 0 their own data" in output, output


def test_the_replacement_of_a_crashed_worker_takes_over_its_values(tmp_path: Path) -> None:
    env = {workers.ENV: json.dumps(TABLE), "CRASH_MARKER": str(tmp_path / "crashed")}
    code, output, seen = run_pytest(tmp_path, "-p", "xdist", "-n", "2", env=env)
    assert code == 1 and "worker 'gw0' crashed" in output, output
    (replacement,) = [s for s in seen if s["PYTEST_XDIST_WORKER"] not in TABLE]
    assert replacement["CI_TOOLKIT_WORKER"] == "gw0" and replacement["DATABASE_URL"] == "db_gw0"
    assert {s["DATABASE_URL"] for s in seen if s["PYTEST_XDIST_WORKER"] == "gw1"} == {"db_gw1"}


def test_a_forked_pytest_applies_its_worker_values_after_the_gate(tmp_path: Path) -> None:
    """A warm run's pytest gets its final environment at the gate; the worker table comes with it."""
    read_end, write_end = os.pipe()
    final = {**clean_env(), workers.ENV: json.dumps(TABLE), "DATABASE_URL": "db_main", "PLAIN": "final"}
    final["REPORT"] = str(tmp_path / "report.jsonl")
    os.write(write_end, (json.dumps({"env": final}) + "\n").encode())
    os.close(write_end)
    try:
        code, output, seen = run_pytest(
            tmp_path,
            "-p",
            "xdist",
            "-n",
            "2",
            env={"CI_TOOLKIT_GATE_FD": str(read_end), "PLAIN": "guessed"},  # no worker table yet
            pass_fds=(read_end,),
        )
    finally:
        os.close(read_end)
    assert code == 0, output
    assert {(s["CI_TOOLKIT_WORKER"], s["DATABASE_URL"], s["PLAIN"]) for s in seen} == {
        ("gw0", "db_gw0", "final"),
        ("gw1", "db_gw1", "final"),
    }
