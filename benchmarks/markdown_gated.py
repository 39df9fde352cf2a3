"""RESULTS.md's section on health-gated dependencies (issue 18), its findings and its method."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.tables import Row, median, median_seconds, s2, table, triple, x
from benchmarks.targets import TARGETS

ORDER = ("ci_toolkit", "limit", "compose_wait")
SEGMENTS = (
    ("create", "create"),
    ("created -> postgres started", "to postgres started"),
    ("postgres started -> postgres ready", "postgres initialises"),
    ("postgres ready -> app started", "gate"),
    ("app started -> ready", "app to ready"),
)


def _title(key: str) -> str:
    return f"healthcheck every {key.removeprefix('interval_')}"


def section(hg: Mapping[str, Any]) -> list[str]:
    variants = hg.get("variants", {})
    if not variants:
        return []
    rows: list[Row] = []
    for key, v in variants.items():
        alts = v["alternatives"]
        limit, citk = median_seconds(alts.get("limit")), median_seconds(alts.get("ci_toolkit"))
        for alt in (a for a in ORDER if a in alts):
            e = alts[alt]
            med = median_seconds(e)
            rows.append(
                [
                    _title(key),
                    alt.replace("_", " "),
                    *triple(e["seconds"]),
                    x(med / limit if med and limit else None),
                    x(med / citk if med and citk and alt == "compose_wait" else None),
                    s2(e.get("wall")),
                    s2(e.get("postgres_up")),
                    s2(e.get("gate_lag")),
                    f"{e['valid']}/{e['reps']}",
                ]
            )
    header = ["stack", "alternative", "min", "median", "max", "vs limit", "ci-toolkit's speed-up"]
    out = [
        "## 5. Health-gated dependencies\n",
        "The bundled stack plus `app` (redis:7, `depends_on: {postgres: {condition: service_healthy}}`), "
        "postgres with the healthcheck `pg_isready -h 127.0.0.1` every 30 s or every 5 s "
        "(`start_period: 60s`), `app` in the config as a redis service. Up to ready, in seconds: "
        "*ci-toolkit* is `ci-toolkit stack up --wait --json`, counted from its `==> up` line to its "
        "`<== ready` line (the up phase's start to ready; *wall* is the whole process, start-up and exit "
        "included); the *limit* is `compose create`, level 1 started through the engine API (postgres "
        "first and alone, redis and nats alongside while it is polled), postgres probed every 10 ms until "
        "it answers, then `app` started and every service probed every 10 ms, counted from spawning "
        "`compose create`; *compose wait* is `docker compose up -d --wait` on the same files, from its "
        "spawn. Every service is then checked with the real clients (valid).\n",
        table([*header, "wall", "pg up", "gate lag", "valid"], rows),
        '*pg up*: postgres\' own "ready to accept connections" (daemon timestamp), from the start of the '
        "up; *gate lag*: from then to `app`'s container start (engine timestamp): how long the gate took "
        "to open. Ratios, medians: "
        + "; ".join(
            f"{_title(k)}: ci-toolkit {x(v['ratio_vs_limit'])} the limit (per-rep pairs "
            f"{x(v['ratio_vs_limit_paired'])}, whole process {x(v['ratio_wall_vs_limit'])}), "
            f"{x(v['speedup_vs_wait'])} faster than `up --wait` ({x(v['speedup_vs_wait_wall'])} as a "
            f"whole process; the limit itself: {x(v['ceiling_vs_wait'])})"
            for k, v in variants.items()
        )
        + ".\n",
    ]
    seg_rows: list[Row] = []
    for key, v in variants.items():
        for alt in (a for a in ORDER if a in v["alternatives"]):
            e = v["alternatives"][alt]
            segs = e.get("segments", {})
            seg_rows.append(
                [
                    _title(key),
                    alt.replace("_", " "),
                    *(s2(segs.get(n)) for n, _ in SEGMENTS),
                    s2(e["seconds"]),
                ]
            )
    out += [
        "Where the time goes, from the engine's timestamps (medians; seconds; the same for all three):\n",
        table(["stack", "alternative", *(label for _, label in SEGMENTS), "up to ready"], seg_rows),
    ]
    parts_rows: list[Row] = []
    for key, v in variants.items():
        for alt in ("ci_toolkit", "limit"):
            parts = v["alternatives"].get(alt, {}).get("parts", {})
            if parts:
                shown = ", ".join(f"{n} {s2(f)}" for n, f in parts.items())
                parts_rows.append([_title(key), alt.replace("_", " "), shown])
    if parts_rows:
        out += [
            "Their own split (medians; ci-toolkit's from its progress lines, timestamped as they arrive):\n",
            table(["stack", "alternative", "parts"], parts_rows),
        ]
    return out


def findings(r: Mapping[str, Any]) -> list[str]:
    hg = r.get("health_gated", {})
    v = hg.get("variants", {}).get("interval_30s")
    if not v or hg.get("ratio_vs_limit") is None:
        return []
    alts = v["alternatives"]
    citk, limit = alts["ci_toolkit"], alts["limit"]
    threshold = next(t[3] for t in TARGETS if t[0] == "health_gated.ratio_vs_limit")
    ratio = hg["ratio_vs_limit"]
    state = "met" if ratio <= threshold else "not met"
    c, lim = median_seconds(citk) or 0.0, median_seconds(limit) or 0.0
    deltas = []
    for name, label in SEGMENTS:
        a, b = median(citk.get("segments", {}).get(name)), median(limit.get("segments", {}).get(name))
        if a is not None and b is not None:
            deltas.append(f"{label} {a - b:+.2f} s")
    text = [
        f"**Health-gated stack** ({state}): with postgres' healthcheck every 30 s, `ci-toolkit stack up",
        f"--wait` goes from up to ready in {c:.2f} s against a physical limit of {lim:.2f} s",
        f"({ratio:.2f}x; the target allows {threshold * lim:.2f} s). Segment by segment, ci-toolkit minus",
        f"the limit: {', '.join(deltas)}. Its gate opened {s2(citk.get('gate_lag'))} s after postgres",
        f"accepted connections where the limit's took {s2(limit.get('gate_lag'))} s.",
    ]
    out = [" ".join(text)]
    to_start = "created -> postgres started"
    per_rep = [
        f"{smp['segments'][to_start]:.2f}"
        for smp in citk.get("samples", [])
        if smp.get("ok", True) and to_start in smp.get("segments", {})
    ]
    if per_rep:
        text = [
            f"Postgres' start, per rep of ci-toolkit: {', '.join(per_rep)} s after the last container",
            "was created (the limit, which starts the gate first and alone:",
            f"{s2(limit['segments'].get(to_start))} s): ci-toolkit starts a level's containers one after",
            "another in the engine's listing order, about a quarter of a second each here, so a rep above",
            "the limit's figure is the gate waiting for the starts listed before it. Starting the",
            "services that gate others first (then the rest) removes that.",
        ]
        out.append(" ".join(text))
    waits = []
    for key, variant in hg["variants"].items():
        wait = variant["alternatives"].get("compose_wait")
        if wait and wait.get("seconds"):
            waits.append(
                f"{_title(key)}: {s2(wait['seconds'])} s, its gate lag {s2(wait.get('gate_lag'))} s "
                f"(ci-toolkit {x(variant['speedup_vs_wait'])} faster)"
            )
    if waits:
        out.append(
            "`docker compose up --wait` waits for Docker's first healthcheck, one interval after postgres "
            "started (engine 20.10 has no `start_interval`): " + "; ".join(waits) + "."
        )
    return out


METHOD = [
    "Health-gated stack: each interval has its own copy of the example; the override "
    "(`health-gated-<interval>.yml`, written there) adds postgres' healthcheck and `app`, the copy's "
    "pyproject.toml lists it after docker-compose.test.yml and checks `app` as redis. ci-toolkit sees "
    "a `service_healthy` gate and brings the stack up in dependency order itself (`compose create`, "
    "start level by level, each gate opened by the protocol probe). The limit, from this warm "
    "process, starts the gate (postgres) first and alone, since it is the critical path (a start "
    "competing with two others took about 0.25 s longer here), the rest of its level in parallel "
    "threads alongside, and polls with `tight_poll` (10 ms, overlapping attempts). Milestones come "
    "from `docker inspect` (the last container's `Created`, `State.StartedAt`) and postgres' log, "
    "counted from the start of each alternative's up (for ci-toolkit: the arrival of its `==> up` "
    "line). *gate lag* includes the engine's start of `app` (about 0.2 s here, in every alternative).",
]
