"""Badge generation (issue 15): coverage, tests and flaky badges made through `output.badge` and
written to files, as `ci-toolkit badge` does; badges per second, the median over reps.
Target >= 50/s (a comparable CI toolkit reported 67.8 badges/s)."""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from ci_toolkit.output import badge

BADGES = 300  # per rep, the three kinds in turn, with values crossing every threshold
TARGET = 50.0
REFERENCE = 67.8


def badges_per_second(reps: int, workdir: Path) -> dict[str, Any]:
    per_rep: list[float] = []
    for rep in range(reps):
        out = workdir / f"badges-{rep}"
        out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        for i in range(BADGES):
            kind = i % 3
            if kind == 0:
                made = badge.coverage(float(i % 101))
            elif kind == 1:
                made = badge.tests({"passed": i, "failed": i % 2, "errors": 0})
            else:
                made = badge.flaky(i % 5)
            (out / f"{made.kind}-{i}.svg").write_text(made.svg, encoding="utf-8")
        per_rep.append(BADGES / (time.perf_counter() - started))
        shutil.rmtree(out, ignore_errors=True)
    median = statistics.median(per_rep)
    return {
        "badges": BADGES,
        "reps": reps,
        "badges_per_second": median,
        "badges_per_second_reps": per_rep,
        "target_badges_per_second": TARGET,
        "reference_badges_per_second": REFERENCE,
        "meets_target": median >= TARGET,
    }
