"""RESULTS.md's sections on fast re-runs (warm leases, snapshots), their findings and their method."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.tables import Row, median, s, s2, table, triple, x
from benchmarks.targets import TARGETS

PHASES = ("validate", "up", "ready", "migrate", "snapshot", "reset")
PARTS = (
    "steps before the tests",
    "rest until pytest started",
    "pytest's start to its first test",
)  # reuse.PARTS


def _has_samples(suite: Mapping[str, Any]) -> bool:
    return any(a["reps"] for a in suite.get("alternatives", {}).values())


def _rows(suite: Mapping[str, Any]) -> tuple[list[Row], list[Row]]:
    """The first-test table and the where-the-time-goes table, one row per alternative run."""
    first: list[Row] = []
    split: list[Row] = []
    for a in suite["alternatives"].values():
        if not a["reps"]:
            continue
        first.append([a["label"], *triple(a["seconds"]), s2(a.get("wall")), f"{a['valid']}/{a['reps']}"])
        phases, parts = a.get("phases", {}), a.get("parts", {})
        split.append([a["label"], *(s2(phases.get(n)) for n in PHASES), *(s2(parts.get(n)) for n in PARTS)])
    return first, split


def _tables(suite: Mapping[str, Any]) -> list[str]:
    first, split = _rows(suite)
    return [
        table(["run", "min", "median", "max", "wall (median)", "valid"], first),
        "Where the time to the first test goes (medians, seconds; phases from the JSON result, a "
        "phase the run skipped is left out of its median). *pytest started* is the pytest process's "
        "start (from /proc): a warm run forks it from the lease's warm interpreter while its steps "
        "still run, so there the last two columns overlap the steps and *rest* can be negative:\n",
        table(["run", *PHASES, *PARTS], split),
    ]


def section(r: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    warm, snap = r.get("warm", {}), r.get("snapshot", {})
    if _has_samples(warm):
        out += [
            "## 6. Warm re-runs on a lease (`integration-run --reuse`)\n",
            "From spawning `ci-toolkit integration-run --json` to the start of the first test (the "
            "workdir's conftest stamps it), in seconds. The first `--reuse` run is a fresh run that keeps "
            "its stack as a lease; each warm run then skips up, ready and migrate and resets the state "
            "instead. The tests of every run first check that the previous run's row, redis key and "
            "JetStream stream, consumer and KV bucket are gone, then write their own, so a reset that "
            "missed anything fails the run (valid). Fresh runs (`--no-reuse`, own project) of the same "
            "workdir are interleaved with the warm ones.\n",
            *_tables(warm),
            f"Warm / fresh (medians): {x(warm.get('speedup_vs_fresh'))} faster to the first test.\n",
        ]
    if _has_samples(snap):
        out += [
            "## 7. Snapshots of the migrated stack (`integration-run --snapshot`)\n",
            "The heavy migration set (benchmarks/heavy_fixture.py: 301 files) on the bundled stack. The "
            "first `--snapshot` run misses and saves a snapshot after its migrations; then each rep a "
            "fresh run (`--no-snapshot`) and a snapshot hit, interleaved, each on its own project. "
            "Spawn to first test, in seconds; the tests check the migrated data is there (migration "
            "count, a sentinel query over the seeded rows).\n",
            *_tables(snap),
            f"Fresh / hit: {x(snap.get('speedup_vs_fresh'))} (medians), "
            f"{x(snap.get('speedup_vs_fresh_paired'))} (median of the per-rep ratios).\n",
        ]
    return out


def _met(r: Mapping[str, Any], key: str) -> str:
    met = next((t["met"] for t in r["targets"] if t["key"] == key), None)
    return {True: "met", False: "not met", None: "not measured"}[met]


def _threshold(key: str) -> float:
    return next(float(t[3]) for t in TARGETS if t[0] == key)


def _phase(alt: Mapping[str, Any] | None, name: str, field: str = "phases") -> float | None:
    return median((alt or {}).get(field, {}).get(name))


def findings(r: Mapping[str, Any]) -> list[str]:
    out = []
    warm, snap = r.get("warm", {}), r.get("snapshot", {})
    hot = warm.get("alternatives", {}).get("warm")
    if warm.get("first_test_seconds") is not None and hot:
        steps = ", ".join(f"{n} {s(_phase(hot, n))} s" for n in PHASES if _phase(hot, n) is not None)
        key = "warm.first_test_seconds"
        before = (_phase(hot, PARTS[1], "parts") or 0) < 0
        early = " (negative: it started before they ended)" if before else ""
        text = [
            f"**Warm re-run** ({_met(r, key)}): a warm run reaches its first test",
            f"{s(warm['first_test_seconds'])} s after its spawn (target {_threshold(key):g}",
            f"s), a fresh run of the same project {s(warm.get('fresh_first_test_seconds'))} s",
            f"({x(warm.get('speedup_vs_fresh'))}); on the heavy migration set a warm run takes",
            f"{s(warm.get('heavy_first_test_seconds'))} s. Of the warm run's time, its steps take",
            f"{s(_phase(hot, PARTS[0], 'parts'))} s ({steps}); from their end to the pytest",
            f"process's start {s(_phase(hot, PARTS[1], 'parts'))} s{early}, from that start to the",
            f"first test {s(_phase(hot, PARTS[2], 'parts'))} s.",
        ]
        out.append(" ".join(text))
    fresh, hit, miss = (snap.get("alternatives", {}).get(k) for k in ("fresh", "hit", "miss"))
    if snap.get("speedup_vs_fresh") is not None and fresh and hit:
        mb = snap.get("database_mb", {}).get("hit") or snap.get("database_mb", {}).get("fresh")
        key = "snapshot.speedup_vs_fresh"
        text = [
            f"**Snapshot hit** ({_met(r, key)}): {s(snap['hit_first_test_seconds'])} s",
            f"to the first test against {s(snap['fresh_first_test_seconds'])} s fresh",
            f"({x(snap['speedup_vs_fresh'])}; target {_threshold(key):g}x). The",
            f"fresh run's migrate phase alone takes {s(_phase(fresh, 'migrate'))} s. The hit's up phase,",
            f"which puts the snapshot's data in place, takes {s(_phase(hit, 'up'))} s (the fresh run's",
            f"{s(_phase(fresh, 'up'))} s), its ready {s(_phase(hit, 'ready'))} s (fresh:",
            f"{s(_phase(fresh, 'ready'))} s); saving the snapshot cost the miss",
            f"{s(_phase(miss, 'snapshot'))} s. The migrated database is {s(mb)} MB.",
        ]
        out.append(" ".join(text))
    return out


METHOD = [
    "Fast re-runs: two generated workdirs, `reuse-light` (the example's 2 migrations) and "
    "`reuse-heavy` (benchmarks/heavy_fixture.py's 300, calibrated so ci-toolkit's migrate phase "
    "takes 10-15 s here), each plus `bench_marks` and the reset-checking tests, a config without "
    "secrets or coverage, and `project_prefix = bench-<run id>` so lease projects fall under the "
    "run's leftover check. Leases and snapshots go to `<scratch>/state` (`CI_TOOLKIT_STATE_DIR`); "
    "at the end `stack down --lease` (each workdir), `snapshot prune --keep 0`, and `stack leases` "
    "must list nothing. The tests import their clients (psycopg, redis, nats) inside the test "
    "bodies, so the first-test stamp measures ci-toolkit and pytest's start, not those imports.",
]
