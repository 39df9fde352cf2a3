"""Where a run ran: commit, branch, workflow and the CI run's page.

The arguments win, then GitHub Actions' variables, then git in the current directory (the
config's, where `history record` and `integration-run` run). A commit read from git whose working
tree has changes to tracked files is recorded as `<sha>-dirty`: the code that ran is not that
commit, so `history flaky` does not take a fail and a pass there as "the same commit" (someone
edited the code between the runs). Untracked files (the artifacts dir, the store) do not count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_toolkit.errors import CommandError
from ci_toolkit.proc import run as run_process
from ci_toolkit.redact import REDACTOR

GIT_TIMEOUT = 10.0
DIRTY = "-dirty"


@dataclass(frozen=True)
class Where:
    commit: str | None
    branch: str | None
    workflow: str | None
    run_url: str | None


def where(env: Mapping[str, str], commit: str | None = None, branch: str | None = None) -> Where:
    commit = commit or env.get("GITHUB_SHA") or None
    if commit is None and (head := _git("rev-parse", "HEAD")) is not None:
        commit = head + DIRTY if _dirty() else head
    parts = [env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    run_url = f"{parts[0]}/{parts[1]}/actions/runs/{parts[2]}" if all(parts) else None
    return Where(
        commit=_safe(commit),
        branch=branch_of(env, branch),
        workflow=_safe(env.get("GITHUB_WORKFLOW") or None),
        run_url=_safe(run_url),
    )


def branch_of(env: Mapping[str, str], branch: str | None = None) -> str | None:
    """The branch as a record keeps it (redacted): a pull request's own branch, not `N/merge`."""
    branch = branch or env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME") or None
    if branch is None:
        found = _git("rev-parse", "--abbrev-ref", "HEAD")
        branch = None if found == "HEAD" else found  # a detached HEAD has no branch
    return _safe(branch)


def is_dirty(commit: str | None) -> bool:
    return commit is not None and commit.endswith(DIRTY)


def _dirty() -> bool:
    status = _git("status", "--porcelain", "--untracked-files=no")
    return bool(status)


def _git(*args: str) -> str | None:
    """git in the current directory; no git, not a repository, a repository without commits: None."""
    try:
        done = run_process(["git", *args], cwd=Path.cwd(), timeout=GIT_TIMEOUT, check=False)
    except (CommandError, OSError):
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and out else None


def _safe(text: str | None) -> str | None:
    return None if text is None else REDACTOR(text)
