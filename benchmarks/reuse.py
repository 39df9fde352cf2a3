"""Fast re-runs: a warm lease (`integration-run --reuse`) and a snapshot of the migrated stack
(`integration-run --snapshot`), each against a fresh run, measured from the process's start to
its first test.

warm       the example's migrations (and the heavy set, `warm_heavy`): one `--reuse` run makes
           the lease (`lease`, `lease_heavy`: a fresh run that keeps its stack), then every rep
           a warm run on it and, interleaved, a fresh `--no-reuse` run of the same project.
snapshot   the heavy set (heavy_fixture.py): one `--snapshot` run misses and saves (`miss`),
           then every rep a fresh `--no-snapshot` run and a snapshot hit, interleaved.

Spawn to first test: `time.time()` right before the CLI is launched, and the one the workdir's
conftest writes when its first test starts. Every run's tests find none of the previous run's
row, redis key or JetStream stream, consumer or KV bucket and leave their own, so a warm run
whose reset missed something fails, and its sample says why.

Leases and snapshots live in `<scratch>/state` (CI_TOOLKIT_STATE_DIR); `close()` removes the
leases (`stack down --lease`), the snapshots (`snapshot prune --keep 0`) and the directory. The
workdirs' `project_prefix` is `bench-<run id>`, so lease projects fall under the run's own
leftover check; each lease named in a JSON result (`reuse.lease`) is recorded as a project too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from benchmarks import heavy_fixture
from benchmarks.stack import CITK, Context, Project, env

Sample = dict[str, Any]
STATE_DIR = "CI_TOOLKIT_STATE_DIR"
AFTER_FIRST_TEST = ("test", "collect", "down")  # phases that end after the first test started
# Spawn to first test, split: ci-toolkit's steps before the tests (their JSON phases), the rest
# of ci-toolkit until the pytest process started (interpreter start-up, gaps), pytest's own start.
PARTS = ("steps before the tests", "rest until pytest started", "pytest's start to its first test")
SPEED = {  # alternative: (label, workdir, integration-run flags), in the order of a rep
    "warm": {
        "fresh": ("fresh run (`--no-reuse`), example migrations", "light", ("--no-reuse",)),
        "warm": ("warm run on the lease (`--reuse`), example migrations", "light", ("--reuse",)),
        "warm_heavy": ("warm run on the lease (`--reuse`), heavy migrations", "heavy", ("--reuse",)),
    },
    "snapshot": {
        "fresh": ("fresh run (`--no-snapshot`), heavy migrations", "heavy", ("--no-snapshot",)),
        "hit": ("snapshot hit (`--snapshot`), heavy migrations", "heavy", ("--snapshot",)),
    },
}
# Made once, before the first rep: the lease (a fresh run that keeps its stack), the snapshot.
SETUP = {
    "warm": {
        "lease": ("first `--reuse` run: fresh, makes the lease", "light", ("--reuse",)),
        "lease_heavy": ("first `--reuse` run, heavy migrations: makes the lease", "heavy", ("--reuse",)),
    },
    "snapshot": {"miss": ("first `--snapshot` run: a miss, saves the snapshot", "heavy", ("--snapshot",))},
}


def labels(suite: str) -> dict[str, str]:
    return {key: label for key, (label, _, _) in {**SETUP[suite], **SPEED[suite]}.items()}


class Runs:
    """What the reuse suites keep across reps: their workdirs (one per migration set), the state
    directory, the setup runs done, the lease projects seen."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.state = ctx.scratch / "state"
        self.workdirs: dict[str, Path] = {}
        self.set_up: set[str] = set()
        self.leases: dict[str, Path] = {}

    def workdir(self, kind: str) -> Path:
        if kind not in self.workdirs:
            dest = self.ctx.scratch / f"reuse-{kind}"
            heavy_fixture.workdir(dest, heavy=kind == "heavy", project_prefix=self.ctx.project_name())
            self.workdirs[kind] = dest
        return self.workdirs[kind]

    def rep(self, suite: str, rep: int, order: Sequence[str]) -> Iterator[tuple[str, Sample]]:
        """This rep's samples of `suite` as they are taken, as (key, sample); the setup runs
        first, in its first rep. A run that raises is a sample that says so."""
        runs = [] if suite in self.set_up else [(key, SETUP[suite][key]) for key in SETUP[suite]]
        self.set_up.add(suite)
        for key, (_, kind, flags) in [*runs, *((key, SPEED[suite][key]) for key in order)]:
            try:
                yield key, self.run(suite, key, rep, kind, flags)
            except Exception as exc:  # a timeout, a broken stamp: this sample fails, the run goes on
                yield key, {"ok": False, "problem": f"{type(exc).__name__}: {str(exc).strip()[:600]}"}

    def run(self, suite: str, key: str, rep: int, kind: str, flags: tuple[str, ...]) -> Sample:
        """One `integration-run --json`, spawn to first test, checked to be what `key` says."""
        workdir = self.workdir(kind)
        name = f"{suite}_{key}_{rep}"
        where = self.ctx.scratch / "runs" / name
        where.mkdir(parents=True)
        cmd = [CITK, "integration-run", *flags, "--json", "--artifacts-dir", str(where / "artifacts")]
        if "--reuse" not in flags:  # a lease's project is the lease's; any other run gets ours
            project = Project.new(self.ctx.project_name(suite, key, rep), workdir)
            cmd += ["--project", project.name]
        stamp = where / "first-test"
        size = where / "db-size"
        extra = {
            STATE_DIR: str(self.state),
            heavy_fixture.FIRST_TEST_FILE: str(stamp),
            heavy_fixture.RUN_ID: name,
            heavy_fixture.DB_SIZE_FILE: str(size),
        }
        spawned = time.time()
        done = subprocess.run(
            cmd,
            cwd=workdir,
            env={**env(), **extra},
            capture_output=True,
            text=True,
            timeout=900,
            stdin=subprocess.DEVNULL,
        )
        wall = time.time() - spawned
        result = _result(done.stdout)
        if result and isinstance(result.get("reuse"), dict) and result["reuse"].get("lease"):
            self._lease(str(result["reuse"]["lease"]), workdir)
        wrong = problem(key, result, done)
        if wrong or not stamp.exists():
            # The scratch dir goes at the end: keep the end of any traceback ci-toolkit wrote.
            for log in sorted(where.glob("artifacts/*/traceback.log")):
                wrong += " | " + " / ".join(log.read_text().strip().splitlines()[-8:])[-1200:]
            return {"ok": False, "problem": wrong or "passed, but no test stamped its start", "wall": wall}
        assert result is not None
        stamped = stamp.read_text().split()
        first = float(stamped[0]) - spawned
        pytest_at = float(stamped[1]) - spawned if len(stamped) > 1 else None
        phases = {p["name"]: p["seconds"] for p in result["phases"] if p["status"] != "skipped"}
        steps = sum(v for name, v in phases.items() if name not in AFTER_FIRST_TEST)
        sample: Sample = {
            "ok": True,
            "seconds": first,
            "wall": wall,
            "phases": phases,
            "parts": {PARTS[0]: steps},
            "project": result["project"],
        }
        if pytest_at is not None:
            sample["parts"].update({PARTS[1]: pytest_at - steps, PARTS[2]: first - pytest_at})
        for field in ("reuse", "snapshot"):
            if field in result:
                sample[field] = result[field]
        if size.exists():
            sample["database_bytes"] = int(size.read_text())
        return sample

    def _lease(self, name: str, workdir: Path) -> None:
        if name not in self.leases:
            self.leases[name] = workdir
            Project.new(name, workdir)  # in the run's project list, and downed by clean_up if left

    def close(self) -> list[str]:
        """Remove every lease and snapshot made, and the state directory; what went wrong."""
        problems = []
        for lease in self._listed():  # a lease whose run printed no JSON is only known here
            root = Path(lease.get("root") or ".").resolve()
            ours = (w for w in self.workdirs.values() if w.resolve() == root)
            self._lease(str(lease["project"]), next(ours, root))
        for kind, workdir in self.workdirs.items():
            if workdir in self.leases.values():
                done = self._cli(["stack", "down", "--lease"], workdir)
                if done.returncode != 0:
                    problems.append(f"`stack down --lease` in the {kind} workdir: {_tail(done)}")
        if self.workdirs:
            done = self._cli(["snapshot", "prune", "--keep", "0"], next(iter(self.workdirs.values())))
            if done.returncode != 0:
                problems.append(f"`snapshot prune --keep 0`: {_tail(done)}")
            left = self._listed()
            if left:
                problems.append(f"leases still listed after `stack down --lease`: {left}")
        shutil.rmtree(self.state, ignore_errors=True)
        return problems

    def _listed(self) -> list[dict[str, Any]]:
        """`stack leases --json`: the leases in this run's state directory."""
        if not self.workdirs:
            return []
        done = self._cli(["stack", "leases", "--json"], next(iter(self.workdirs.values())))
        return list((_result(done.stdout) or {}).get("leases", []))

    def _cli(self, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CITK, *args],
            cwd=cwd,
            env={**env(), STATE_DIR: str(self.state)},
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )


def _result(stdout: str) -> dict[str, Any] | None:
    lines = stdout.strip().splitlines()
    try:
        found = json.loads(lines[-1]) if lines else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def problem(key: str, result: dict[str, Any] | None, done: subprocess.CompletedProcess[str]) -> str:
    """Why this run is not a valid sample of `key` ("" when it is)."""
    if result is None:
        return f"no JSON result (exit {done.returncode}): {_tail(done)}"
    if result.get("status") != "passed":
        failed = "; ".join(str(t) for t in result.get("failed_tests", []))[:600]
        return (
            f"{result.get('status')} (exit {done.returncode}): {result.get('message')} {failed} {_tail(done)}"
        )
    reuse, snap = result.get("reuse") or {}, result.get("snapshot") or {}
    warm, hit, saved = ("reuse.warm", reuse), ("snapshot.hit", snap), ("snapshot.saved", snap)
    expected = {
        "lease": [(warm, False)],
        "lease_heavy": [(warm, False)],
        "warm": [(warm, True)],
        "warm_heavy": [(warm, True)],
        "miss": [(hit, False), (saved, True)],
        "hit": [(hit, True)],
    }.get(key, [])
    for (name, found), value in expected:
        if found.get(name.split(".")[1]) is not value:
            return f"expected {name} = {value}, got reuse {reuse}, snapshot {snap}"
    if key == "fresh" and (reuse.get("warm") or snap.get("hit")):
        return f"a fresh run reused something: reuse {reuse}, snapshot {snap}"
    return ""


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    return " / ".join(done.stderr.strip().splitlines()[-12:])[-1500:]
