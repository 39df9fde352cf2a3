"""The git commands `init --batch` runs, through the one process runner. Never interactive (no
stdin, no password prompt), never forcing: a branch is only deleted when it still points at the
commit this run pushed (`--force-with-lease`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ci_toolkit import proc
from ci_toolkit.errors import CommandError

TIMEOUT = 300.0  # a clone of a large repository over a slow link
IDENTITY = ("ci-toolkit", "ci-toolkit@localhost")  # unless GIT_AUTHOR_* / GIT_COMMITTER_* say otherwise
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@]*@", re.IGNORECASE)


def env() -> dict[str, str]:
    """Never wait for a password nobody will type: the batch runs unattended."""
    extra = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}
    if "GIT_SSH_COMMAND" not in os.environ:
        extra["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    return extra


def masked(remote: str) -> str:
    """A remote as it may be shown: credentials in an https URL (`https://user:token@host`) never are."""
    return _USERINFO.sub(r"\1***@", remote)


def credentials(remote: str) -> str | None:
    match = re.match(r"^[a-z][a-z0-9+.-]*://([^/@]*)@", remote, re.IGNORECASE)
    return match.group(1).partition(":")[2] or match.group(1) if match else None


def run(cwd: Path, *args: str, timeout: float = TIMEOUT) -> str:
    return proc.run(["git", *args], cwd=cwd, env=env(), timeout=timeout).stdout


def clone(remote: str, into: Path, timeout: float = TIMEOUT) -> None:
    # Shallow: onboarding reads and writes the newest tree only; a push of one new commit on
    # top of a shallow history is accepted by every git server.
    proc.run(["git", "clone", "--quiet", "--depth=1", "--no-tags", remote, str(into)],
             cwd=into.parent, env=env(), timeout=timeout)  # fmt: skip


def remote_branch(clone_dir: Path, branch: str, timeout: float = TIMEOUT) -> str | None:
    """The commit the remote's `branch` points at, or None when it has none."""
    out = run(clone_dir, "ls-remote", "origin", f"refs/heads/{branch}", timeout=timeout)
    return out.split()[0] if out.strip() else None


def fetch_branch(clone_dir: Path, branch: str) -> None:
    run(clone_dir, "fetch", "--quiet", "--depth=1", "origin", f"+refs/heads/{branch}:refs/heads/{branch}")
    run(clone_dir, "checkout", "--quiet", branch)


def commit(clone_dir: Path, branch: str, files: list[str], message: str) -> str:
    run(clone_dir, "checkout", "--quiet", "-b", branch)
    run(clone_dir, "add", "--", *files)
    # The batch's commits are ci-toolkit's, not whoever's git config the machine has; GIT_AUTHOR_*
    # and GIT_COMMITTER_* in the environment still win, as git lets them.
    identity = [
        "-c",
        f"user.name={IDENTITY[0]}",
        "-c",
        f"user.email={IDENTITY[1]}",
        "-c",
        "commit.gpgsign=false",
    ]
    run(clone_dir, *identity, "commit", "--quiet", "--no-verify", "-m", message)
    return run(clone_dir, "rev-parse", "HEAD").strip()


def push(clone_dir: Path, branch: str, timeout: float = TIMEOUT) -> None:
    run(clone_dir, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", timeout=timeout)


def delete_if_ours(clone_dir: Path, branch: str, sha: str, timeout: float = TIMEOUT) -> None:
    """Delete the remote `branch` only while it is `sha` (someone else's push is never lost)."""
    run(clone_dir, "push", "--quiet", f"--force-with-lease=refs/heads/{branch}:{sha}",
        "origin", f":refs/heads/{branch}", timeout=timeout)  # fmt: skip


def remote_said(exc: CommandError) -> str:
    """What the remote answered (a hook's `remote:` lines, `! [remote rejected]`), in one line."""
    lines = [line.strip() for line in (exc.stderr or exc.stdout or "").splitlines() if line.strip()]
    said = [line.removeprefix("remote:").strip() for line in lines if line.startswith("remote:")]
    said = [s for s in said if s] or [line for line in lines if not line.startswith("To ")][-2:]
    if exc.returncode is None:
        said.append(f"no answer within {exc.timeout:g}s" if exc.timeout else "cancelled")
    return "; ".join(said) or f"git exited {exc.returncode}"
