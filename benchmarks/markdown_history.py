"""RESULTS.md's section on run history (issue 15): badge generation and local store writes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.tables import table

METHOD = [
    "History (issue 15): `badges.py` makes 300 badges per rep (coverage, tests and flaky in turn, "
    "values crossing every threshold) through `ci_toolkit.output.badge` and writes each to a file; "
    "`history_store.py` puts 20 runs of 200 tests each (record, run.json, junit.xml) into a fresh "
    "local store, one after another, and checks that all 20 are in the index. Medians over reps; "
    "no Docker involved.",
]


def section(r: Mapping[str, Any]) -> list[str]:
    h = r.get("history") or {}
    if not h or "problems" in h:
        return []
    rows = [
        ["badges per second (300 SVG files)", f"{h['badges_per_second']:.0f}", "≥ 50", "67.8"],
        ["local store writes per second (20 runs x 200 tests)", f"{h['store_writes_per_second']:.0f}",
         "≥ 20", "45"],
        ["one store write, p50 / max (ms)", f"{h['write_ms_p50']:.1f} / {h['write_ms_max']:.1f}", "", ""],
    ]  # fmt: skip
    later = [x for x in r.get("run", {}).get("later_suites", []) if "history" in x.get("suites", [])]
    note = [
        f"Measured alone in run {x['id']} ({x['date']}, {x['reps']} reps) and merged into this document: "
        "the suite was added after the run above.\n"
        for x in later[:1]
    ]
    return [
        "## History: badges and the results store\n",
        *note,
        table(["", "measured", "target", "reference"], rows),
    ]


def findings(r: Mapping[str, Any]) -> list[str]:
    h = r.get("history") or {}
    if not h or "problems" in h:
        return []
    return [
        f"Badges: {h['badges_per_second']:.0f}/s with anybadge (target 50/s); local store writes: "
        f"{h['store_writes_per_second']:.0f} runs/s (target 20/s; SQLite index in WAL mode, one "
        "directory per run renamed into place)."
    ]
