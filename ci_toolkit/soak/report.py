"""What a soak run adds up to, from its per-iteration metrics records (one JSON line each).

Pure functions, no engine and no clock: percentiles per phase, pass rate, flaky tests
(failed in some iterations, passed in others), leaked resources and engine disk over time,
and the Markdown rendering of all of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ci_toolkit.output import markdown as md

Record = Mapping[str, Any]
NOT_COUNTED = ("interrupted",)  # an iteration stopped by Ctrl-C/SIGTERM is neither pass nor fail


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0-100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def stats(values: Sequence[float]) -> dict[str, float | int]:
    return {
        "count": len(values),
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "max": round(max(values), 3),
    }


def phase_stats(records: Sequence[Record]) -> dict[str, dict[str, float | int]]:
    """p50/p95/max per phase (in the order phases first appear), plus the whole iteration."""
    by_phase: dict[str, list[float]] = {}
    for record in records:
        for name, seconds in (record.get("phases") or {}).items():
            by_phase.setdefault(name, []).append(float(seconds))
    out = {name: stats(values) for name, values in by_phase.items()}
    totals = [float(r["seconds"]) for r in records if "seconds" in r]
    if totals:
        out["iteration"] = stats(totals)
    return out


def test_outcomes(records: Sequence[Record]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(flaky, always failing). A test "passed" in an iteration whose tests ran without it failing."""
    ran = [r["iteration"] for r in records if _tests_ran(r)]
    failed_in: dict[str, list[int]] = {}
    for record in records:
        for test_id in dict.fromkeys(record.get("failed_tests") or ()):
            failed_in.setdefault(test_id, []).append(record["iteration"])
    flaky: list[dict[str, Any]] = []
    always: list[dict[str, Any]] = []
    for test_id, failed in sorted(failed_in.items()):
        passed = [i for i in ran if i not in failed]
        entry = {"id": test_id, "failed_in": failed, "passed_in": passed, "ran": len(ran)}
        (flaky if passed else always).append(entry)
    return flaky, always


def _tests_ran(record: Record) -> bool:
    tests = record.get("tests") or {}
    return sum(int(tests.get(k, 0)) for k in (*TEST_KEYS, "xfailed", "xpassed")) > 0


TEST_KEYS = ("passed", "failed", "errors", "skipped")  # every record has them; the others when not zero


def test_totals(records: Sequence[Record]) -> dict[str, int]:
    """pytest's categories added up over the iterations (records older than xfailed/xpassed/rerun
    lack those: 0)."""
    keys = (*TEST_KEYS, "xfailed", "xpassed", "rerun")
    return {k: sum(int((r.get("tests") or {}).get(k, 0)) for r in records) for k in keys}


def rerun_flaky(records: Sequence[Record]) -> dict[str, list[int]]:
    """Test id -> the iterations it passed only on a rerun in (pytest-rerunfailures)."""
    out: dict[str, list[int]] = {}
    for record in records:
        for test_id in dict.fromkeys(record.get("flaky_tests") or ()):
            out.setdefault(test_id, []).append(record["iteration"])
    return dict(sorted(out.items()))


def leak_summary(records: Sequence[Record]) -> dict[str, Any]:
    totals = {"containers": 0, "networks": 0, "volumes": 0}
    leaky: list[int] = []
    checked = 0
    for record in records:
        leaked = record.get("leaked")
        if leaked is None:
            continue
        checked += 1
        counts = {kind: len(leaked.get(kind) or ()) for kind in totals}
        if any(counts.values()):
            leaky.append(record["iteration"])
        for kind, n in counts.items():
            totals[kind] += n
    return {"checked": checked, "iterations_with_leaks": leaky, "total": totals, "grew": bool(leaky)}


def disk_summary(records: Sequence[Record]) -> dict[str, Any] | None:
    totals = [int(r["disk"]["total"]) for r in records if (r.get("disk") or {}).get("total") is not None]
    if not totals:
        return None
    growth = totals[-1] - totals[0]
    return {
        "first": totals[0],
        "last": totals[-1],
        "min": min(totals),
        "max": max(totals),
        "growth": growth,
        "growth_per_iteration": round(growth / (len(totals) - 1)) if len(totals) > 1 else 0,
    }


def summarize(records: Sequence[Record], **about: Any) -> dict[str, Any]:
    """The report as data; `about` (mode, started, finished, stopped, metrics...) is kept as is."""
    counted = [r for r in records if r.get("status") not in NOT_COUNTED]
    passed = sum(1 for r in counted if r.get("status") == "passed")
    flaky, always = test_outcomes(records)
    return {
        **about,
        "iterations": len(records),
        "counted": len(counted),
        "passed": passed,
        "failed": len(counted) - passed,
        "pass_rate": round(passed / len(counted), 4) if counted else None,
        "phases": phase_stats(records),
        "failures": [
            {
                "iteration": r["iteration"],
                "status": r.get("status"),
                "phase": r.get("failed_phase"),
                "failed_tests": list(r.get("failed_tests") or ()),
                "message": (r.get("message") or "").splitlines()[0][:300] if r.get("message") else "",
            }
            for r in counted
            if r.get("status") != "passed"
        ],
        "flaky_tests": flaky,
        "always_failing_tests": always,
        "tests": test_totals(records),
        "passed_on_rerun": rerun_flaky(records),
        "leaks": leak_summary(records),
        "disk": disk_summary(records),
    }


def render_markdown(report: Mapping[str, Any]) -> str:
    rate = report.get("pass_rate")
    lines = [
        "# Soak report",
        "",
        f"**{report['passed']}/{report['counted']} iterations passed"
        f"{f' ({rate * 100:.1f}%)' if rate is not None else ''}**"
        f" — {report.get('mode', '')}, {report['iterations']} iterations"
        f"{_took(report)}; stopped: {report.get('stopped', 'completed')}",
        "",
        "| phase | runs | p50 (s) | p95 (s) | max (s) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, s in report["phases"].items():
        lines.append(f"| {name} | {s['count']} | {s['p50']:.2f} | {s['p95']:.2f} | {s['max']:.2f} |")
    if report["failures"]:
        lines += ["", "## Failed iterations", "", "| iteration | status | phase | failed tests / message |"]
        lines.append("| ---: | --- | --- | --- |")
        for f in report["failures"]:
            what = ", ".join(map(md.code, f["failed_tests"])) or md.cell(f["message"], escape_html=False)
            lines.append(f"| {f['iteration']} | {f['status']} | {f['phase'] or ''} | {what} |")
    lines += ["", "## Flaky tests", ""]
    lines += [*_tests_table(report["flaky_tests"], "none: no test both failed and passed"), ""]
    for test_id, iterations in (report.get("passed_on_rerun") or {}).items():
        lines.append(f"- {md.code(test_id)} passed only on a rerun in iterations {_ids(iterations)}")
    lines += [""] if report.get("passed_on_rerun") else []
    if report["always_failing_tests"]:
        lines += ["## Failing in every iteration that ran tests", ""]
        lines += [*_tests_table(report["always_failing_tests"], ""), ""]
    leaks = report["leaks"]
    lines += ["## Leaked resources", ""]
    if not leaks["checked"]:
        lines.append("not checked per iteration (--reuse-stack); see `final_leaks`.")
    elif leaks["iterations_with_leaks"]:
        t = leaks["total"]
        lines.append(
            f"**{len(leaks['iterations_with_leaks'])} of {leaks['checked']} iterations left resources "
            f"behind** (iterations {', '.join(map(str, leaks['iterations_with_leaks']))}): "
            f"{t['containers']} containers, {t['networks']} networks, {t['volumes']} volumes."
        )
    else:
        lines.append(
            f"none: nothing labelled with an iteration's project remained after any of {leaks['checked']}."
        )
    final = report.get("final_leaks")
    if final is not None:
        lines.append(f"after the final teardown: {sum(len(v) for v in final.values())} resources left.")
    disk = report.get("disk")
    lines += ["", "## Engine disk usage (`docker system df`)", ""]
    if disk is None:
        lines.append("not measured.")
    else:
        lines.append(
            f"first {human_bytes(disk['first'])}, last {human_bytes(disk['last'])}, "
            f"max {human_bytes(disk['max'])}; change {_signed(disk['growth'])} "
            f"({_signed(disk['growth_per_iteration'])} per iteration). The engine is shared: other "
            "runs' images and volumes count too."
        )
    if report.get("metrics"):
        lines += ["", f"Per-iteration metrics: {md.code(report['metrics'])}"]
    return "\n".join(lines) + "\n"


def _tests_table(entries: Sequence[Mapping[str, Any]], empty: str) -> list[str]:
    if not entries:
        return [empty]
    rows = ["| test | failed in | passed in |", "| --- | --- | --- |"]
    for e in entries:
        rows.append(
            f"| {md.code(e['id'])} | {len(e['failed_in'])}/{e['ran']} (iterations {_ids(e['failed_in'])}) "
            f"| {len(e['passed_in'])}/{e['ran']} |"
        )
    return rows


def _ids(ids: Sequence[int], limit: int = 12) -> str:
    shown = ", ".join(map(str, ids[:limit]))
    return shown + (f", … {len(ids) - limit} more" if len(ids) > limit else "")


def _took(report: Mapping[str, Any]) -> str:
    seconds = report.get("seconds")
    return f" in {format_duration(seconds)}" if seconds is not None else ""


def _signed(n: int) -> str:
    return ("+" if n >= 0 else "-") + human_bytes(abs(n))


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1000
    return f"{n:.2f} TB"  # pragma: no cover - unreachable


def format_duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"
