"""`report merge` over shards: the job summary (Markdown) and `--json` of one merged run.

Per merged run (one per matrix cell): its totals, each shard's tests, wall time (its test phase)
and estimate, the balance (slowest shard / mean), the merged coverage, where the merged files
are, and every test with its outcome and shard — failed ones first and outside the collapsed
list, which a 5,000-test suite would otherwise bury them in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ci_toolkit.output import markdown as md
from ci_toolkit.output.cell_report import CellResult
from ci_toolkit.results.junit import read_junit
from ci_toolkit.shard.merge import Merged
from ci_toolkit.shard.plan import balance
from ci_toolkit.shard.testcases import Case

MARK = {"passed": "✅", "failed": "❌", "error": "💥", "skipped": "⏭️"}
MARK |= {"xfailed": "⏭️", "xpassed": "✅", "rerun": "🔁"}
FOUR = ("passed", "failed", "errors", "skipped")
EXTRA = ("xfailed", "xpassed", "rerun")  # pytest's other categories: shown in Markdown when not zero
BAD = ("failed", "error")


def as_cell(merged: Merged) -> CellResult:
    """The merged run as one matrix cell, for the cell table when several cells were sharded."""
    walls = [s.wall_seconds for s in merged.shards if s.wall_seconds is not None]
    tests = read_junit(merged.junit)
    return CellResult(
        _name(merged), merged.into, merged.status, tests, max(walls, default=None), merged.message
    )


def balances(merged: Merged) -> tuple[float | None, float | None]:
    """Slowest shard / mean, as run (test phases) and as estimated from the ledger."""
    walls = [s.wall_seconds for s in merged.shards if s.wall_seconds is not None]
    estimates = [s.estimated_seconds for s in merged.shards if s.estimated_seconds is not None]
    return (
        balance(walls) if len(walls) == len(merged.shards) else None,
        balance(estimates) if len(estimates) == len(merged.shards) else None,
    )


def files(merged: Merged, durations: Path | None = None) -> dict[str, Any]:
    cov = merged.coverage
    saved = [str(p) for p in (merged.durations, durations if merged.durations else None) if p is not None]
    return {
        "junit": str(merged.junit),
        "coverage_xml": None if cov is None else str(cov.xml),
        "coverage_html": None if cov is None else str(cov.html),
        "coverage_data": None if cov is None else str(cov.data),
        "durations": saved,
    }


def to_dict(merged: Merged, durations: Path | None = None) -> dict[str, Any]:
    run, estimated = balances(merged)
    cov = merged.coverage
    return {
        "cell": merged.cell,
        "status": merged.status,
        "message": merged.message,
        "into": str(merged.into),
        "tests": {"collected": merged.tests, "ran": len(merged.ran), **_counts(merged.cases)},
        "flaky_tests": list(merged.flaky),
        "shards": [
            {
                "shard": s.label,
                "path": str(s.path),
                "status": s.status,
                "message": s.message,
                "selected": s.selected,
                "tests": _counts([c for c in merged.cases if c.shard == s.label]),
                "wall_seconds": s.wall_seconds,
                "estimated_seconds": s.estimated_seconds,
            }
            for s in merged.shards
        ],
        "balance": None if run is None else round(run, 3),
        "estimated_balance": None if estimated is None else round(estimated, 3),
        "coverage": None
        if cov is None
        else {"percent": round(cov.percent, 2), "shards": cov.shards, "fail_under": cov.fail_under},
        "files": files(merged, durations),
        "notes": list(merged.notes),
        "cases": [
            {"id": c.id, "outcome": c.outcome, "shard": c.shard, "message": c.message} for c in merged.cases
        ],
    }


def render(merged: Merged, durations: Path | None = None) -> str:
    cases = merged.cases
    ran = merged.ran
    n = len(merged.shards)
    mark = "✅" if merged.status == "passed" else "❌"
    name = _name(merged)
    lines = [
        f"## {name[:1].upper()}{name[1:]}: {mark} {merged.status}, {len(ran)} tests over {n} shards",
        "",
    ]
    c = _counts(cases)
    of = f"{len(ran)} of {merged.tests} collected tests ran" if merged.tests is not None else ""
    shown = [f"{c[k]} {k}" for k in FOUR] + [f"{c[k]} {k}" for k in EXTRA if c[k]]
    lines.append(f"{', '.join(shown)}; {of}")
    if merged.message:
        lines += [""] + [f"**{_text(line)}**  " for line in merged.message.splitlines()]
    run, estimated = balances(merged)
    if run is not None:
        also = f"; estimated {estimated:.2f}" if estimated is not None else ""
        lines += ["", f"balance {run:.2f} (slowest shard / mean{also})"]
    cov = merged.coverage
    if cov is not None:
        limit = f"; pytest.fail_under = {cov.fail_under:g}" if cov.fail_under is not None else ""
        lines += ["", f"coverage {cov.percent:.1f}% (merged over {cov.shards} shards{limit})"]
    lines += ["", *(f"> {_text(note)}" for note in merged.notes)] if merged.notes else []
    lines += _shard_table(merged)
    failed = [case for case in cases if case.outcome in BAD]
    if failed:
        lines += [
            "",
            "### Failed tests",
            "",
            "| test | outcome | shard | message |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {md.code(f.id)} | {MARK[f.outcome]} {f.outcome} | {f.shard} | {_text(f.message[:300])} |"
            for f in failed
        ]
    if merged.flaky:
        lines += ["", "### Flaky tests (passed only on a rerun)", ""]
        lines += [f"- {md.code(test)}" for test in merged.flaky]
    listed = failed + [case for case in cases if case.outcome not in BAD]
    attempts = f" (and {c['rerun']} rerun attempts)" if c["rerun"] else ""
    lines += [
        "",
        f"<details><summary>all {len(ran)} tests{attempts}, with the shard each ran in</summary>",
        "",
    ]
    lines += ["| test | outcome | shard |", "| --- | --- | --- |"]
    lines += [f"| {md.code(t.id)} | {MARK[t.outcome]} {t.outcome} | {t.shard} |" for t in listed]
    lines += ["", "</details>", "", "Merged files:", ""]
    lines += _file_lines(merged, durations)
    return "\n".join(lines) + "\n"


def _shard_table(merged: Merged) -> list[str]:
    total = _counts(merged.cases)
    keys = (*FOUR, *(k for k in EXTRA if total[k]))
    lines = [
        "",
        f"| shard | result | tests | {' | '.join(keys)} | wall time | estimated | directory |",
        f"| --- | --- | ---: |{' ---: |' * len(keys)} ---: | ---: | --- |",
    ]
    for s in merged.shards:
        c = _counts([case for case in merged.cases if case.shard == s.label])
        mark = "✅" if s.status == "passed" else "❌"
        tests = s.selected if s.selected is not None else sum(c.values()) - c["rerun"]
        counts = " | ".join(str(c[k]) for k in keys)
        lines.append(
            f"| {s.label} | {mark} {s.status} | {tests} | {counts} | {_secs(s.wall_seconds)} | "
            f"{_secs(s.estimated_seconds)} | {md.code(str(s.path))} |"
        )
    if all(not s.estimated_seconds for s in merged.shards):
        lines += ["", "(no durations were recorded before this run: the shards split by count)"]
    return lines


def _file_lines(merged: Merged, durations: Path | None) -> list[str]:
    out = [f"- JUnit: {md.code(str(merged.junit))}"]
    cov = merged.coverage
    if cov is not None:
        out.append(
            f"- coverage: {md.code(str(cov.xml))}, HTML {md.code(str(cov.html))}, "
            f"data {md.code(str(cov.data))}"
        )
    saved = files(merged, durations)["durations"]
    if saved:
        out.append(f"- durations ledger: {', '.join(md.code(p) for p in saved)}")
    else:
        out.append("- durations ledger: none (no shard recorded durations)")
    return out


def render_all(merged: Sequence[Merged], cells: Sequence[CellResult], durations: Path | None) -> str:
    """Several matrix cells (some sharded): the cell table first, then each merged run."""
    from ci_toolkit.output.cell_report import render_markdown

    head = render_markdown(cells) + "\n" if len(cells) > 1 else ""
    return head + "\n".join(render(m, durations) for m in merged)


def _counts(cases: Sequence[Case]) -> dict[str, int]:
    outcomes = [c.outcome for c in cases]
    return {
        "passed": outcomes.count("passed"),
        "failed": outcomes.count("failed"),
        "errors": outcomes.count("error"),
        "skipped": outcomes.count("skipped"),
        **{k: outcomes.count(k) for k in EXTRA},
    }


def _name(merged: Merged) -> str:
    return f"shards of {merged.cell}" if merged.cell else "shards"


def _secs(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}s"


def _text(text: str) -> str:
    return md.cell(text)
