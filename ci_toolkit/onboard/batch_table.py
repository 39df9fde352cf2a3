"""What `init --batch` prints: a line per repository as it finishes, then the table (or JSON)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ci_toolkit.onboard.batch_run import RepoResult


def progress(result: RepoResult, done: int, total: int) -> str:
    return f"[{done}/{total}] {result.status}: {result.remote} ({result.seconds:.1f}s)"


def table(results: Sequence[RepoResult], seconds: float) -> list[str]:
    width = max((len(r.remote) for r in results), default=10)
    state = max((len(r.status) for r in results), default=6)
    lines = [f"{'repository'.ljust(width)}  {'result'.ljust(state)}  {'time':>6}  details"]
    for r in results:
        lines.append(f"{r.remote.ljust(width)}  {r.status.ljust(state)}  {r.seconds:5.1f}s  {r.reason}")
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in counts.items())
    lines.append(f"{len(results)} repositories in {seconds:.1f}s: {summary}")
    prs = [r.pr_command for r in results if r.pr_command]
    if prs:
        lines.append("open the pull requests with gh (GitHub's API is not called from here):")
        lines.extend(f"  {cmd}" for cmd in prs)
    return lines


def as_json(results: Sequence[RepoResult], seconds: float) -> dict[str, Any]:
    ok = all(r.ok for r in results)
    return {"status": "ok" if ok else "failed", "seconds": round(seconds, 2),
            "repositories": [r.to_dict() for r in results]}  # fmt: skip
