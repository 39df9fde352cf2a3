"""Run the ci-toolkit benchmarks and (re)write RESULTS.md and results.json.

    python benchmarks/run.py                            # full: 5 reps, about 9 minutes
    python benchmarks/run.py --smoke --out /tmp/bench   # 1 rep, no 30 s-healthcheck `up --wait`
    python benchmarks/run.py --suites health_gated --reps 5   # one suite (results: that suite only)
    python benchmarks/run.py --suites warm,snapshot --reps 3 --out /tmp/b   # fast re-runs (--smoke
                                                        # leaves these two out unless named)
    python benchmarks/run.py --suites shards --reps 1 --out /tmp/b   # 4 shards against pytest-split:
                                                        # about 2 minutes, once per run whatever
                                                        # --reps says; --smoke leaves it out too
    python benchmarks/run.py --suites install --reps 1 --out /tmp/b   # actions/setup under act: uv and
                                                        # pip, cold and warm (about 1 minute a rep;
                                                        # needs act and uv, the dev extra's; --smoke
                                                        # leaves it out unless named)
    python benchmarks/run.py --suites history --reps 3 --out /tmp/b   # badges/s and history store
                                                        # writes/s (seconds; no Docker)
    python benchmarks/run.py --suites onboard --reps 3 --out /tmp/b   # init --batch over 20 bare
                                                        # repositories (about 10 s a rep; no Docker)

All alternatives are measured in the same run, interleaved rep by rep (the order rotates), so
the ratios compare like with like on a noisy, shared machine. Every compose project is named
`bench-<run id>-...`; whatever is left at the end is taken down, and the run then fails.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` and this checkout's ci_toolkit importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import badges, health_gated, history_store, init_batch, install, reuse, shards, suites
from benchmarks import results as results_doc
from benchmarks.stack import CREATED, Context, checks, clean_up, leftovers, make_workdir
from benchmarks.variants import VARIANTS

SUITES = (
    "readiness",
    "overhead",
    "startup",
    "concurrency",
    "health_gated",
    "warm",
    "snapshot",
    "shards",
    "install",
    "history",
    "onboard",
)
REUSE_SUITES = ("warm", "snapshot")
NOT_IN_SMOKE = (*REUSE_SUITES, "shards", "install")  # --smoke runs them only when --suites names them
SHARDS = {"run": "4 shards of the generated suite: ci-toolkit and pytest-split on one ledger"}
OVERHEAD = {
    "integration_run": ("ci-toolkit integration-run (CLI, wall time)", suites.integration_run),
    "by_hand": ("by hand: up -d, 10 ms poll, psycopg migrations, same pytest, down -v", suites.by_hand),
}
CONCURRENCY = {"1": "1 integration-run", "3": "3 concurrent integration-runs"}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=5, help="repetitions of every measurement (default 5)")
    parser.add_argument(
        "--smoke", action="store_true", help="1 rep, skip `up --wait` with 30 s healthchecks (both suites)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="where RESULTS.md and results.json go (default: benchmarks/)",
    )
    parser.add_argument("--suites", help=f"comma-separated subset of {SUITES} (default: all)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.reps = 1
    args.default_suites = [s for s in SUITES if not (args.smoke and s in NOT_IN_SMOKE)]
    given = [s.strip() for s in args.suites.split(",") if s.strip()] if args.suites else []
    args.suites = given or args.default_suites
    unknown = set(args.suites) - set(SUITES)
    if unknown or args.reps < 1:
        parser.error(f"unknown suite(s) {sorted(unknown)}" if unknown else "--reps must be >= 1")
    return args


Samples = dict[str, list[dict[str, Any]]]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    run_id = secrets.token_hex(3)
    scratch = Path(tempfile.mkdtemp(prefix=f"bench-{run_id}-"))
    from ci_toolkit.stack.engine import Engine

    workdir = make_workdir(scratch / "example")
    ctx = Context(run_id, scratch, workdir, Engine.connect(), checks(workdir))
    variants = {k: v for k, v in VARIANTS.items() if not (args.smoke and k == "wait_default")}
    gated = health_gated.cases(args.smoke)
    samples: dict[str, Samples] = {
        "readiness": {k: [] for k in variants},
        "overhead": {k: [] for k in OVERHEAD},
        "startup": {k: [] for k in suites.startup_commands()},
        "concurrency": {k: [] for k in CONCURRENCY},
        "health_gated": {k: [] for k in gated},
        **{suite: {k: [] for k in reuse.labels(suite)} for suite in REUSE_SUITES},
        "shards": {k: [] for k in SHARDS},
        "install": {k: [] for k in install.KEYS},
        "history": {"run": []},
        "onboard": {"run": []},
    }
    # act and uv are looked for now, before any rep: a missing one stops the run at once.
    installs = install.Installs(ctx) if "install" in args.suites else None
    log(f"run {run_id}: {args.reps} rep(s), suites {', '.join(args.suites)}, scratch {scratch}")
    warm_up()
    load_at_start = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    cases = {"readiness": variants, "health_gated": gated}
    runs = reuse.Runs(ctx)
    try:
        for rep in range(args.reps):
            one_rep(args.suites, ctx, rep, f"[{rep + 1}/{args.reps}]", cases, samples, runs, installs)
    finally:
        cleanup_problems = runs.close()
        left = clean_up(ctx.project_name())
        for lease in runs.leases:  # named by ci-toolkit: under our prefix, unless it ignored it
            if not lease.startswith(ctx.project_name()):
                left += clean_up(lease)
        prefixes = [ctx.project_name(), *(n for n in runs.leases if not n.startswith(ctx.project_name()))]
        still = {k: sorted(v) for p in prefixes for k, v in leftovers(p).items() if v}
        shutil.rmtree(scratch, ignore_errors=True)
    run = {
        "id": run_id,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "reps": args.reps,
        "smoke": args.smoke,
        "suites": args.suites,
        "seconds": time.perf_counter() - started,
        "command": command(args),
        "load_average_at_start": load_at_start,
        "projects": [p.name for p in CREATED],
        "projects_left_behind": left,
        "resources_still_present": still,
        "cleanup_problems": cleanup_problems,
    }
    labels = {
        "readiness": {k: v[0] for k, v in variants.items()},
        "overhead": {k: v[0] for k, v in OVERHEAD.items()},
        "startup": {k: v[0] for k, v in suites.startup_commands().items()},
        "concurrency": CONCURRENCY,
        "health_gated": {k: v[0] for k, v in gated.items()},
        **{suite: reuse.labels(suite) for suite in REUSE_SUITES},
        "shards": SHARDS,
        "install": install.LABELS,
        "history": {"run": "badges and local store writes (no Docker)"},
        "onboard": {"run": "init --batch over 20 bare repositories (no Docker)"},
    }
    results = results_doc.assemble(run, labels, samples)
    results_doc.write(results, args.out)
    for row in results["targets"]:
        mark = {True: "met", False: "NOT met", None: "not measured"}[row["met"]]
        log(f"target {row['target']}: {fmt(row['measured'])} -> {mark}")
    log(f"wrote {args.out / 'RESULTS.md'} and {args.out / 'results.json'}")
    for error in results["errors"]:
        log(f"error: {error}")
    if left or still:
        log(f"error: compose projects were left behind and had to be removed: {left} {still}")
    return 1 if left or still or results["errors"] else 0


def one_rep(
    chosen: Sequence[str],
    ctx: Context,
    rep: int,
    tag: str,
    cases: dict[str, dict[str, Any]],
    samples: dict[str, Samples],
    runs: reuse.Runs,
    installs: install.Installs | None = None,
) -> None:
    """Every chosen suite once; within a suite the alternatives alternate, their order rotating."""
    for suite in ("readiness", "health_gated"):
        if suite in chosen:
            table = cases[suite]
            for key in rotated(list(table), rep):
                samples[suite][key].append(measure(f"{tag} {suite} {key}", table[key][1], ctx, rep))
    if "overhead" in chosen:
        for key in rotated(list(OVERHEAD), rep):
            samples["overhead"][key].append(measure(f"{tag} overhead {key}", OVERHEAD[key][1], ctx, rep))
    if "startup" in chosen:
        for _ in range(2):  # cheap: twice per rep
            for key, seconds in suites.startup(ctx, rep).items():
                samples["startup"][key].append({"seconds": seconds})
        log(
            f"{tag} startup "
            + ", ".join(f"{k} {v[-1]['seconds']:.3f}s" for k, v in samples["startup"].items())
        )
    if "concurrency" in chosen:
        for n in rotated([1, 3], rep):
            sample = measure(f"{tag} concurrency {n}", partial(suites.concurrent_runs, n=n), ctx, rep)
            samples["concurrency"][str(n)].append(sample)
    for suite in REUSE_SUITES:
        if suite in chosen:  # each run is its own sample: a failure is one already (runs.run)
            for key, sample in runs.rep(suite, rep, rotated(list(reuse.SPEED[suite]), rep)):
                samples[suite][key].append(sample)
                status = "ok" if sample["ok"] else f"INVALID ({sample['problem'][:300]})"
                log(f"{tag} {suite} {key}: first test {fmt(sample.get('seconds'))} s {status}")
    if "shards" in chosen and rep == 0:  # deterministic suite, ratios within one run: once is enough
        samples["shards"]["run"].append(measure(f"{tag} shards", shards.run, ctx, rep))
    if "history" in chosen:  # no Docker: badges per second and local store writes per second
        sample = measure(f"{tag} history", history_rep, ctx, rep)
        samples["history"]["run"].append(sample)
    if "onboard" in chosen:  # no Docker: one repository alone, then 20 at --concurrency 4
        samples["onboard"]["run"].append(measure(f"{tag} onboard", onboard_rep, ctx, rep))
    if installs is not None:  # per installer: cold, then warm on the cache the cold run filled
        for key, sample in installs.rep(rep, rotated(list(install.INSTALLERS), rep)):
            samples["install"][key].append(sample)
            status = "ok" if sample["ok"] else f"INVALID ({sample['problem'][:300]})"
            log(f"{tag} install {key}: {fmt(sample.get('seconds'))} s {status}")


def history_rep(ctx: Context, rep: int) -> dict[str, Any]:
    made = badges.badges_per_second(1, ctx.scratch)
    stored = history_store.store_writes(1, ctx.scratch)
    return {
        "badges_per_second": made["badges_per_second"],
        "store_writes_per_second": stored["runs_per_second"],
        "write_ms_p50": stored["write_ms_p50"],
        "write_ms_max": stored["write_ms_max"],
    }


def onboard_rep(ctx: Context, rep: int) -> dict[str, Any]:
    figures = init_batch.batch_figures(ctx.scratch)
    return {**figures, "seconds": figures["batch_seconds"]}


def measure(
    what: str, fn: Callable[[Context, int], dict[str, Any]], ctx: Context, rep: int
) -> dict[str, Any]:
    """One sample; a failure becomes a sample that says so (and its stack is taken down)."""
    try:
        sample = fn(ctx, rep)
    except Exception as exc:
        sample = {"ok": False, "problem": f"{type(exc).__name__}: {str(exc).strip()[:600]}"}
        clean_up(ctx.project_name())
    status = "ok" if sample.get("ok", True) else f"INVALID ({sample['problem'][:200]})"
    log(f"{what}: {fmt(sample.get('seconds'))} {status}")
    return sample


def command(args: argparse.Namespace) -> str:
    text = "python benchmarks/run.py" + (" --smoke" if args.smoke else f" --reps {args.reps}")
    return text + ("" if args.suites == args.default_suites else f" --suites {','.join(args.suites)}")


def rotated(items: list[Any], rep: int) -> list[Any]:
    k = rep % len(items)
    return items[k:] + items[:k]


def warm_up() -> None:
    """Import what the verifiers and the by-hand run use, so no sample pays for it."""
    import nats  # noqa: F401
    import psycopg  # noqa: F401
    import redis  # noqa: F401


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
