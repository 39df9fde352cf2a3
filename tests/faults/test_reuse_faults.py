"""Faults around a leased warm stack (`integration-run --reuse`): a signal during its reset, a
container removed by hand, two runs racing for one lease, an image re-tagged under it, and
`stack prune` while a run holds it.

Whatever happens, no test may run on stale state (STATE_TEST fails on anything an earlier run
left), a lease whose reset did not finish is never reused, and nothing is left behind: every
test ends with `stack down --lease` and no container, network or volume of the lease project.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    BACKSTOP,
    assert_no_leaks,
    docker_json,
    leaked_resources,
    run_cli,
    service_containers,
    wait_until,
)
from tests.faults.conftest import (
    HOLD_SECONDS,
    PROMPT_SECONDS,
    LiveRun,
    assert_clean_failure,
    patient_timeouts,
)
from tests.integration.test_reuse import STATE_TEST

pytestmark = pytest.mark.usefixtures("engine_available")

# Held in its test phase while HOLD_RELEASE is set and the run is on a lease, until the test
# driver creates that file: a run provably holds its lease while something else happens.
HOLD_TEST = f"""
import os, pathlib, time

def test_hold_while_leased():
    release = os.environ.get("HOLD_RELEASE")
    if not release or "-lease-" not in os.environ["CI_TOOLKIT_PROJECT"]:
        return
    pathlib.Path(os.environ["HOLD_MARKER"]).write_text(os.environ["CI_TOOLKIT_PROJECT"])
    deadline = time.monotonic() + {HOLD_SECONDS}
    while not pathlib.Path(release).exists():
        assert time.monotonic() < deadline, "never released"
        time.sleep(0.05)
"""
SELECT = ("--", "-k", "state_of_an_earlier or hold_while_leased")
STATE_GREEN = "2 passed, 0 failed, 0 errors"  # the state test and the hold test


@dataclass
class Leased:
    """A copy of the example whose every run is `--reuse`, and the lease it makes."""

    root: Path
    lease: str
    live: list[LiveRun] = field(default_factory=list)

    def run(self) -> tuple[int, dict[str, Any], str]:
        """One `--reuse` run to the end (no hold)."""
        result = run_cli(["integration-run", "--reuse", "--json", *SELECT], self.root)
        return result.returncode, result.json(), result.stderr

    def start(self, env: dict[str, str] | None = None) -> LiveRun:
        """A `--reuse` run in the background, progress read line by line (as `start_run`, which
        passes --project: a lease names its own project)."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "ci_toolkit", "integration-run", "--reuse", "--json", *SELECT],
            cwd=self.root,
            env={**os.environ, "CI": "true", **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        live = LiveRun(proc, self.lease)

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                live.stderr.append(line)
                live.lines.put(line)

        live.reader = threading.Thread(target=read, daemon=True)
        live.reader.start()
        self.live.append(live)
        return live


@pytest.fixture
def leased(example_project: Path) -> Iterator[Leased]:
    from ci_toolkit import config
    from ci_toolkit.reuse import lease

    tests = example_project / "example" / "tests"
    (tests / "test_reuse_state.py").write_text(STATE_TEST)
    (tests / "test_zz_hold.py").write_text(HOLD_TEST)
    project = Leased(example_project, lease.name_for(config.load(example_project)))
    try:
        yield project
    finally:
        for live in project.live:  # a test that failed half way: its runs end (and tear down) first
            if live.proc.poll() is None:
                live.signal(signal.SIGINT)
                try:
                    live.proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    live.proc.kill()
                    live.proc.wait()
        down = run_cli(["stack", "down", "--lease"], example_project)
        assert down.returncode == 0, down.output
        assert_no_leaks(project.lease)


def phase(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in data["phases"] if p["name"] == name)


def first_run(project: Leased) -> set[str]:
    """The run that makes the lease; the ids of the containers it keeps."""
    code, data, output = project.run()
    assert code == 0, output
    assert data["reuse"] == {"lease": project.lease, "warm": False, "changed": [], "kept": True}, data
    kept = set(leaked_resources(project.lease)["containers"])
    assert len(kept) == 3, kept
    return kept


def assert_fresh_pass(code: int, data: dict[str, Any], output: str, project: Leased) -> None:
    """A run that passed on a stack it started itself, under the lease, with the state test green."""
    assert code == 0, output
    assert data["project"] == project.lease and data["reuse"]["warm"] is False, data["reuse"]
    assert phase(data, "up")["detail"] == f"project {project.lease}", phase(data, "up")
    assert phase(data, "migrate")["detail"].startswith("2 applied"), phase(data, "migrate")
    assert phase(data, "test")["detail"].startswith(STATE_GREEN), phase(data, "test")
    assert data["reuse"]["kept"] is True


def test_sigint_during_a_reset_removes_the_lease_and_the_next_run_is_fresh(
    leased: Leased, tmp_path: Path
) -> None:
    patient_timeouts(leased.root)  # the hook's own timeout (timeouts.migrate) outlasts the hold
    cfg = leased.root / "ci-toolkit.toml"
    hook = f'reset = ["sh", "-c", "sleep {HOLD_SECONDS}"]'
    redis = '[services.redis]\nkind = "redis"\nport = 6379\n'
    assert cfg.read_text().count(redis) == 1, "the example's [services.redis] changed"
    cfg.write_text(cfg.read_text().replace(redis, f"{redis}{hook}\n"))
    first_run(leased)

    run = leased.start()
    run.wait_for(r"==> reset\b")
    (container,) = service_containers(leased.lease, "redis")
    run.wait_until(
        lambda: (
            f"sleep {HOLD_SECONDS}"
            in subprocess.run(["docker", "top", container], capture_output=True, text=True).stdout
        ),
        "the reset hook to run in the redis container",
    )
    started = time.monotonic()
    run.signal(signal.SIGINT)
    code, data, output = run.finish()
    assert time.monotonic() - started < PROMPT_SECONDS, output  # stopped, not waited for the hook
    assert_clean_failure(
        code,
        data,
        output,
        expect_code=130,
        status="interrupted",
        message="interrupted by SIGINT; the stack was torn down",
        project=leased.lease,  # a lease whose reset did not finish is removed, containers and all
    )
    assert data["reuse"]["warm"] is True and data["reuse"]["kept"] is False, data["reuse"]
    phases = {p["name"]: p["status"] for p in data["phases"]}
    assert phases["reset"] == "interrupted" and phases["down"] == "ok", data["phases"]
    assert "test" not in phases, data["phases"]  # no test ran on a half-reset stack
    assert "lease kept" not in output
    assert f"lease {leased.lease} removed: this run stopped before its stack was reset" in output
    listed = run_cli(["stack", "leases", "--json"], leased.root).json()["leases"]
    assert listed == []  # removed, record and all

    code, data, output = leased.run()
    assert_fresh_pass(code, data, output, leased)
    assert data["reuse"]["changed"] == [], data["reuse"]  # nothing to replace: it was already gone
    assert "replacing it with a fresh stack" not in output


def test_a_lease_whose_container_was_removed_by_hand_is_replaced(leased: Leased) -> None:
    kept = first_run(leased)
    (postgres,) = service_containers(leased.lease, "postgres")
    subprocess.run(["docker", "rm", "-f", postgres], check=True, capture_output=True)

    code, data, output = leased.run()
    why = "the container of postgres is gone or stopped (removed outside ci-toolkit?)"
    assert f"lease {leased.lease}: {why}; replacing it with a fresh stack" in output
    assert data["reuse"]["changed"] == [why], data["reuse"]
    assert_fresh_pass(code, data, output, leased)
    assert not kept & set(leaked_resources(leased.lease)["containers"])  # all three replaced


def test_two_runs_racing_for_one_lease(leased: Leased, tmp_path: Path) -> None:
    first_run(leased)
    marker, release = tmp_path / "held", tmp_path / "release"
    env = {"HOLD_MARKER": str(marker), "HOLD_RELEASE": str(release)}
    a, b = leased.start(env), leased.start(env)  # started together: either may take the lease
    both = (a, b)

    def output() -> str:
        return "".join(a.stderr) + "\n----\n" + "".join(b.stderr)

    # The winner is in its tests, holding the lease (it waits there until released)...
    wait_until(
        lambda: marker.exists() or all(r.proc.poll() is not None for r in both),
        what="one run to hold the lease in its tests",
        output=output,
    )
    assert marker.read_text() == leased.lease, output()
    # ... while the other runs on a stack of its own, to the end.
    wait_until(
        lambda: any(r.proc.poll() is not None for r in both), what="the other run to end", output=output
    )
    ended = [r for r in both if r.proc.poll() is not None]
    assert len(ended) == 1, output()  # overlap: the lease's holder was still in its tests
    (loser,) = ended
    (winner,) = [r for r in both if r is not loser]
    release.write_text("")
    code_w, won, out_w = winner.finish()
    code_l, lost, out_l = loser.finish()

    assert code_w == 0 and code_l == 0, output()
    assert won["project"] == leased.lease and won["reuse"]["warm"] is True, won["reuse"]
    assert phase(won, "reset")["detail"] == "state reset to just migrated"
    assert "in use by another run" not in out_w and f"lease kept: {leased.lease}" in out_w, out_w
    assert phase(won, "test")["detail"].startswith(STATE_GREEN), phase(won, "test")

    warning = (
        f"lease {leased.lease} is in use by another run (pid {winner.proc.pid}); "
        "this run uses a fresh stack of its own"
    )
    assert warning in out_l, out_l
    assert lost["reuse"] == {
        "lease": None,
        "warm": False,
        "changed": [],
        "kept": False,
        "reason": "the lease is in use by another run",
    }, lost["reuse"]
    own = lost["project"]
    assert own != leased.lease and "-lease-" not in own, own
    assert phase(lost, "migrate")["detail"].startswith("2 applied"), phase(lost, "migrate")
    assert phase(lost, "test")["detail"].startswith(STATE_GREEN), phase(lost, "test")
    assert phase(lost, "down")["status"] == "ok", lost["phases"]
    assert_no_leaks(own)  # its own stack went with it
    assert len(leaked_resources(leased.lease)["containers"]) == 3  # the lease is still kept


@pytest.fixture
def own_redis_tag() -> Iterator[str]:
    """A tag of this test's own on redis:7; removed at the end with whatever image it names then."""
    tag = f"citk-fault-redis:{secrets.token_hex(4)}"
    subprocess.run(["docker", "tag", "redis:7", tag], check=True, capture_output=True)
    try:
        yield tag
    finally:
        # After the `leased` fixture's teardown (fixtures end in reverse), so no container uses it.
        subprocess.run(["docker", "rmi", tag], capture_output=True)


def image_id(ref: str) -> str:
    found = docker_json("image", "inspect", "--format", "{{.Id}}", ref)[0]
    assert found.startswith("sha256:"), found
    return found


def test_an_image_retagged_under_a_lease_replaces_it(
    own_redis_tag: str, leased: Leased, tmp_path: Path
) -> None:
    compose = leased.root / "docker-compose.test.yml"
    text = compose.read_text()
    assert text.count("image: redis:7\n") == 1
    compose.write_text(text.replace("image: redis:7\n", f"image: {own_redis_tag}\n"))
    first_run(leased)
    before = image_id(own_redis_tag)

    build = tmp_path / "build"
    build.mkdir()
    (build / "Dockerfile").write_text(f"FROM redis:7\nLABEL citk-fault={own_redis_tag.split(':')[1]}\n")
    built = subprocess.run(
        ["docker", "build", "-q", "-t", own_redis_tag, str(build)],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},  # the local redis:7, never a registry
        timeout=BACKSTOP,
    )
    assert built.returncode == 0, built.stderr
    after = image_id(own_redis_tag)
    assert after != before

    code, data, output = leased.run()
    why = f"image {own_redis_tag} is now {after[7:19]} (was {before[7:19]})"  # past "sha256:"
    assert data["reuse"]["changed"] == [why], data["reuse"]
    assert f"lease {leased.lease}: {why}; replacing it with a fresh stack" in output
    assert_fresh_pass(code, data, output, leased)
    (redis,) = service_containers(leased.lease, "redis")
    assert docker_json("inspect", "--format", "{{.Image}}", redis) == [after]  # the new image runs


def test_prune_never_removes_a_held_lease(leased: Leased, tmp_path: Path) -> None:
    marker, release = tmp_path / "held", tmp_path / "release"
    run = leased.start({"HOLD_MARKER": str(marker), "HOLD_RELEASE": str(release)})
    try:
        run.wait_for_file(marker)  # in its tests, holding the lease
        # --dry-run: --older-than 0 would also remove other people's kept stacks on this engine.
        pruned = run_cli(["stack", "prune", "--older-than", "0", "--dry-run", "--json"], leased.root)
        assert pruned.returncode == 0, pruned.output
        decisions = {d["project"]: d for d in pruned.json()["stacks"]}
        held = decisions[leased.lease]
        assert (held["stale"], held["reason"]) == (False, "a lease held by a running integration-run")
    finally:
        release.write_text("")
    code, data, output = run.finish()
    assert_fresh_pass(code, data, output, leased)
    assert len(leaked_resources(leased.lease)["containers"]) == 3  # kept
