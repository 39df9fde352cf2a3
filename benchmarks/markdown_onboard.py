"""RESULTS.md's section on onboarding (issue 16): `ci-toolkit init --batch` over bare repositories."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.tables import table

METHOD = [
    "Onboarding (issue 16): `init_batch.py` makes 20 local bare repositories (a dev compose file with "
    "postgres and redis on fixed ports, pyproject.toml, tests, SQL migrations) and runs `ci-toolkit "
    "init --batch FILE --push --json` as a user does: once per repository alone (3 fresh repositories, "
    "the median wall time), then all 20 with `--concurrency 4` (wall time; each repository's own "
    "seconds from the JSON). Every repository must come back onboarded with the branch on its remote.",
]


def section(r: Mapping[str, Any]) -> list[str]:
    o = r.get("onboard") or {}
    if not o or "problems" in o:
        return []
    rows = [
        ["one repository alone (wall time of the command)", f"{o['single_seconds']:.2f} s", "", "5.56 s"],
        [f"{o['repos']} repositories, --concurrency {o['concurrency']} (wall time)",
         f"{o['batch_seconds']:.2f} s", "", ""],
        ["worst repository in the batch", f"{o['worst_repo_seconds']:.2f} s", "≤ 15 s", ""],
        ["median repository in the batch", f"{o['median_repo_seconds']:.2f} s", "", ""],
        ["batch / (20 x one alone)", f"{o['batch_vs_serial']:.2f}x", "< 1.00x", ""],
    ]  # fmt: skip
    later = [x for x in r.get("run", {}).get("later_suites", []) if "onboard" in x.get("suites", [])]
    note = [
        f"Measured alone in run {x['id']} ({x['date']}, {x['reps']} reps) and merged into this document: "
        "the suite was added after the run above.\n"
        for x in later[:1]
    ]
    return ["## Onboarding: init --batch\n", *note, table(["", "measured", "target", "reference"], rows)]


def findings(r: Mapping[str, Any]) -> list[str]:
    o = r.get("onboard") or {}
    if not o or "problems" in o:
        return []
    return [
        f"Onboarding: {o['repos']} repositories in {o['batch_seconds']:.1f} s at --concurrency "
        f"{o['concurrency']} (worst {o['worst_repo_seconds']:.1f} s, target 15 s; "
        f"{o['batch_vs_serial']:.2f}x of 20 single runs), one alone {o['single_seconds']:.2f} s "
        f"against the reference tool's {o['reference_seconds_per_repo']} s."
    ]
