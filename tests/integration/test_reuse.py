"""`integration-run --reuse`: the stack is kept as a lease, the next run reuses it (no up, no
migrations) with state reset to "just migrated", and a changed identity replaces it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import assert_no_leaks, leaked_resources, run_cli

pytestmark = pytest.mark.integration

# Run N writes a row, a key, a stream and a KV bucket; run N+1 must not see them.
STATE_TEST = """
import asyncio, os
import nats, psycopg, redis


def test_state_of_an_earlier_run_is_gone():
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as db:
        assert db.execute("SELECT count(*) FROM customers").fetchone()[0] > 0  # migrated data stays
        assert db.execute("SELECT to_regclass('leftover')").fetchone()[0] is None, "table from an earlier run"
        db.execute("CREATE TABLE leftover (run text)")
        db.execute("INSERT INTO leftover VALUES ('n')")
    cache = redis.Redis.from_url(os.environ["REDIS_URL"])
    assert cache.get("leftover") is None, "redis key from an earlier run"
    cache.set("leftover", "n")

    async def streams() -> None:
        nc = await nats.connect(os.environ["NATS_URL"])
        js = nc.jetstream()
        names = [s.config.name for s in await js.streams_info()]
        assert "LEFTOVER" not in names and "KV_leftover" not in names, names
        await js.add_stream(name="LEFTOVER", subjects=["leftover.>"])
        await js.create_key_value(bucket="leftover")
        await nc.close()

    asyncio.run(streams())
"""


@pytest.fixture
def reuse_project(example_project: Path) -> Iterator[Path]:
    (example_project / "example" / "tests" / "test_reuse_state.py").write_text(STATE_TEST)
    yield example_project
    result = run_cli(["stack", "down", "--lease"], example_project)
    assert result.returncode == 0, result.output


def run(project: Path, *args: str) -> dict:  # type: ignore[type-arg]
    result = run_cli(
        ["integration-run", "--reuse", "--json", *args, "--", "-k", "state_of_an_earlier"], project
    )
    data = result.json()
    assert data["exit_code"] == 0, result.output
    return data


def phase(data: dict, name: str) -> dict:  # type: ignore[type-arg]
    return next(p for p in data["phases"] if p["name"] == name)


def test_a_second_run_reuses_the_stack_with_state_reset(reuse_project: Path) -> None:
    first = run(reuse_project)
    lease = first["reuse"]["lease"]
    assert first["reuse"] == {"lease": lease, "warm": False, "changed": [], "kept": True}
    assert "down" not in [p["name"] for p in first["phases"]]
    ids = leaked_resources(lease)["containers"]
    assert len(ids) == 3  # kept for the next run

    second = run(reuse_project)
    assert second["reuse"]["warm"] is True and second["project"] == lease
    assert phase(second, "up")["detail"].startswith("reused lease")
    assert phase(second, "migrate")["detail"].startswith("skipped")
    assert "reset" in phase(second, "reset")["detail"]
    assert sorted(leaked_resources(lease)["containers"]) == sorted(ids)  # the same containers

    listed = json.loads(run_cli(["stack", "leases", "--json"], reuse_project).stdout)["leases"]
    assert [(x["project"], x["ready"], x["held_by"]) for x in listed] == [(lease, True, None)]


def test_a_changed_identity_replaces_the_lease_and_says_why(reuse_project: Path) -> None:
    first = run(reuse_project)
    lease = first["reuse"]["lease"]
    before = set(leaked_resources(lease)["containers"])
    config = reuse_project / "ci-toolkit.toml"
    config.write_text(config.read_text().replace('EXAMPLE_STREAM = "ORDERS"', 'EXAMPLE_STREAM = "ORDERS2"'))
    result = run_cli(
        ["integration-run", "--reuse", "--json", "--", "-k", "state_of_an_earlier"], reuse_project
    )
    data = result.json()
    assert data["exit_code"] == 0, result.output
    assert data["reuse"]["warm"] is False
    assert data["reuse"]["changed"] == ["environment: EXAMPLE_STREAM"]
    assert f"lease {lease}: environment: EXAMPLE_STREAM; replacing it with a fresh stack" in result.stderr
    assert not before & set(leaked_resources(lease)["containers"])  # new containers

    (reuse_project / "migrations" / "003_more.sql").write_text("CREATE TABLE more_things (id int);\n")
    data = run_cli(
        ["integration-run", "--reuse", "--json", "--", "-k", "state_of_an_earlier"], reuse_project
    ).json()
    assert data["reuse"]["changed"] == ["migration 003_more.sql added"]


def test_stack_down_lease_removes_it(example_project: Path) -> None:
    data = run_cli(["integration-run", "--reuse", "--json", "--", "-k", "orders"], example_project).json()
    lease = data["reuse"]["lease"]
    assert leaked_resources(lease)["containers"]
    result = run_cli(["stack", "down", "--lease"], example_project)
    assert result.returncode == 0 and f"lease {lease} removed" in result.stdout, result.output
    assert_no_leaks(lease)
    listed = json.loads(run_cli(["stack", "leases", "--json"], example_project).stdout)["leases"]
    assert listed == []


def test_without_reuse_nothing_is_kept(example_project: Path) -> None:
    data = run_cli(["integration-run", "--json", "--", "-k", "orders"], example_project).json()
    assert "reuse" not in data
    assert_no_leaks(data["project"])


def zygote_processes(lease: str) -> list[int]:
    from ci_toolkit.reuse import zygote

    wanted = zygote.socket_path(lease).encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and wanted in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_warm_run_forks_its_pytest_ahead_and_stack_down_stops_the_interpreter(reuse_project: Path) -> None:
    first = run(reuse_project)
    lease = first["reuse"]["lease"]
    assert len(zygote_processes(lease)) == 1  # started when the lease was kept
    result = run_cli(
        ["integration-run", "--reuse", "--json", "--", "-k", "state_of_an_earlier"], reuse_project
    )
    data = result.json()
    assert data["exit_code"] == 0 and data["reuse"]["warm"] is True, result.output
    assert "pytest forked ahead from the lease's warm interpreter" in result.output
    assert data["tests"]["passed"] == 1 and data["coverage_percent"] is not None
    assert run_cli(["stack", "down", "--lease"], reuse_project).returncode == 0
    assert zygote_processes(lease) == []
