"""`init --batch`: onboard many repositories at once, each one all or nothing.

Per remote: clone (shallow), plan; nothing to do -> "already onboarded"; else write, `config
check`, commit on the branch, and with `--push` push it and check the remote holds exactly that
commit. A failure before the push changes nothing anywhere ("failed"). A failure at or after the
push (refused by a hook, the connection lost after the remote took it, the branch not what was
pushed) deletes the branch again when it still points at our commit, never someone else's ("rolled
back"). A branch of that name already on the remote is never overwritten. One repository's failure
never stops the others.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ci_toolkit.errors import CiToolkitError, CommandError, UsageError
from ci_toolkit.onboard import changes, verify
from ci_toolkit.onboard import gitops as git
from ci_toolkit.onboard import plan as planner
from ci_toolkit.onboard.model import InitOptions
from ci_toolkit.redact import REDACTOR

ONBOARDED, ALREADY, WOULD, FAILED, ROLLED_BACK = (
    "onboarded", "already onboarded", "would onboard", "failed", "rolled back",
)  # fmt: skip
MESSAGE = "Run the integration tests with ci-toolkit\n\nWritten by `ci-toolkit init --batch`."
PR_TITLE = "Run the integration tests with ci-toolkit"
_GITHUB = re.compile(r"github\.com[:/]([^/]+/[^/]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class BatchOptions:
    concurrency: int = 4
    branch: str = "ci-toolkit/onboard"
    push: bool = False
    dry_run: bool = False
    workdir: Path | None = None  # the clones' parent; default a temporary dir (removed at the end)
    init: InitOptions = field(default_factory=InitOptions)
    message: str = MESSAGE
    timeout: float = git.TIMEOUT  # per git command (clone, push)


@dataclass(frozen=True)
class RepoResult:
    remote: str  # as shown: credentials masked
    status: str
    reason: str = ""
    branch: str = ""
    commit: str = ""
    files: tuple[str, ...] = ()
    seconds: float = 0.0
    pr_command: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (ONBOARDED, ALREADY, WOULD)

    def to_dict(self) -> dict[str, object]:
        return {
            "remote": self.remote, "status": self.status, "reason": self.reason, "branch": self.branch,
            "commit": self.commit, "files": list(self.files), "seconds": round(self.seconds, 2),
            "pr_command": self.pr_command,
        }  # fmt: skip


def read_repos(path: Path) -> tuple[str, ...]:
    """One remote per line; blank lines and `#` comments skipped; each remote once."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--batch {path}: cannot be read ({exc})") from None
    remotes: list[str] = []
    for number, line in enumerate(lines, 1):
        text = re.split(r"\s#", line, maxsplit=1)[0].strip() if not line.lstrip().startswith("#") else ""
        if not text:
            continue
        if len(text.split()) > 1:
            raise UsageError(f"{path}:{number}: one remote per line, got {git.masked(text)!r}")
        remotes.append(_absolute(text))
    if not remotes:
        raise UsageError(f"--batch {path}: no remotes in it", hint="one git remote (path or URL) per line")
    return tuple(dict.fromkeys(remotes))


def _absolute(remote: str) -> str:
    """A local path as an absolute one (the clones run elsewhere); URLs and `host:path` as given."""
    if "://" in remote or re.match(r"^[^/]+:", remote):
        return remote
    return str(Path(remote).expanduser().absolute())


def run(
    remotes: Sequence[str], options: BatchOptions, on_result: Callable[[RepoResult], None] | None = None
) -> tuple[RepoResult, ...]:
    """Every remote's result, in the order given; `on_result` hears each as it finishes."""
    for remote in remotes:
        if secret := git.credentials(remote):
            REDACTOR.learn(secret)  # git's own messages repeat the URL
    own = options.workdir is None
    if options.workdir is not None:
        options.workdir.mkdir(parents=True, exist_ok=True)
    # A fresh directory per batch, also under --workdir: a second batch never meets the first's clones.
    root = Path(tempfile.mkdtemp(prefix="ci-toolkit-batch-", dir=options.workdir))
    results: dict[int, RepoResult] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, options.concurrency))
    try:
        futures = {pool.submit(_one, r, root / f"{i:03d}", options): i for i, r in enumerate(remotes)}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            if on_result is not None:
                on_result(result)
    except BaseException:
        # Ctrl-C, a closed terminal: no repository that has not started is started; the ones
        # running finish their push or rollback, so no remote is left half done.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        if own and (options.push or options.dry_run):
            shutil.rmtree(root, ignore_errors=True)
    return tuple(results[i] for i in range(len(remotes)))


def _one(remote: str, workdir: Path, options: BatchOptions) -> RepoResult:
    started = time.monotonic()
    shown = git.masked(remote)
    branch = options.branch

    workdir.mkdir(parents=True, exist_ok=True)
    clone = workdir / "repo"

    def done(status: str, reason: str = "", **more: object) -> RepoResult:
        seconds = time.monotonic() - started
        if status != ONBOARDED:  # the clone is gone afterwards: name files as in the repository
            reason = reason.replace(f"{clone}/", "").replace(str(clone), ".")
        return RepoResult(shown, status, REDACTOR(reason), branch, seconds=seconds, **more)  # type: ignore[arg-type]

    try:
        return _steps(remote, clone, options, done)
    except Exception as exc:  # a bug: this repository's result says so, the others go on
        from ci_toolkit.error_handler import write_traceback

        where = write_traceback(exc)
        return done(FAILED, f"internal error (a bug in ci-toolkit): {exc!r}; traceback in {where}")


def _steps(remote: str, clone: Path, options: BatchOptions, done: Callable[..., RepoResult]) -> RepoResult:
    branch = options.branch
    try:
        git.clone(remote, clone, options.timeout)
        existing = git.remote_branch(clone, branch, options.timeout)
        if existing is not None:
            git.fetch_branch(clone, branch)
        plan = planner.plan(clone, options.init)
        files = tuple(c.path.relative_to(plan.root).as_posix() for c in plan.pending)
        if existing is not None:
            if not files:
                return done(ALREADY, f"on branch {branch} (pushed before)", commit=existing)
            return done(FAILED, f"the remote already has a branch {branch} (not made by this run): left "
                                "alone; delete it or pick another --branch")  # fmt: skip
        if not files:
            return done(ALREADY, "nothing to change")
        changes.apply(plan)  # in the throwaway clone, also for --dry-run: what would fail, fails now
        verify.config_check(plan.config_path)
        if options.dry_run:
            return done(WOULD, "would write " + ", ".join(files), files=files)
        sha = git.commit(clone, branch, list(files), options.message)
    except CommandError as exc:
        step = exc.cmd[1] if len(exc.cmd) > 1 else "git"
        return done(FAILED, f"git {step}: {git.remote_said(exc)}")
    except CiToolkitError as exc:
        return done(FAILED, _one_line(exc.message))
    if not options.push:
        return done(ONBOARDED, f"committed in {clone} (not pushed: --push)", commit=sha, files=files)
    return _push(clone, sha, files, options, done)


def _push(
    clone: Path, sha: str, files: tuple[str, ...], options: BatchOptions, done: Callable[..., RepoResult]
) -> RepoResult:
    branch = options.branch
    try:
        git.push(clone, branch, options.timeout)
        there = git.remote_branch(clone, branch, options.timeout)
        if there != sha:
            raise _Mismatch(f"the remote's {branch} is {there or 'missing'} after the push, not {sha[:12]}")
    except (CommandError, _Mismatch) as exc:
        why = git.remote_said(exc) if isinstance(exc, CommandError) else str(exc)
        return _roll_back(clone, sha, files, options, done, f"push: {why}")
    remote = git.masked(str(git.run(clone, "remote", "get-url", "origin").strip()))
    return done(ONBOARDED, f"pushed {branch}", commit=sha, files=files, pr_command=pr_command(remote, branch))


def _roll_back(
    clone: Path, sha: str, files: tuple[str, ...], options: BatchOptions,
    done: Callable[..., RepoResult], why: str,
) -> RepoResult:  # fmt: skip
    branch = options.branch
    # The delete is tried even when the remote does not show the branch (hidden refs, a replica
    # behind): the lease deletes it only while it is our commit; refused means absent or not ours.
    with contextlib.suppress(CommandError):
        git.delete_if_ours(clone, branch, sha, options.timeout)
    try:
        there = git.remote_branch(clone, branch, options.timeout)
    except CommandError as exc:
        said = git.remote_said(exc)
        reason = (
            f"{why}; {branch} could not be checked ({said}): look, and git push <remote> --delete {branch}"
        )
        return done(FAILED, reason, commit=sha, files=files)
    if there == sha:
        return done(FAILED, f"{why}; {branch} is still on the remote", commit=sha, files=files)
    if there is not None:  # someone pushed over it meanwhile: theirs now, not ours to delete
        return done(FAILED, f"{why}; {branch} on the remote is someone else's now: left alone", commit=sha)
    return done(ROLLED_BACK, f"{why}; nothing of it is on the remote", commit=sha, files=files)


def _one_line(message: str) -> str:
    """A multi-line error (config check lists every problem) as one table cell."""
    parts = [p.strip().lstrip("- ") for p in message.splitlines() if p.strip() and "hint:" not in p]
    text = " ".join(p if p.endswith(":") else p + ";" for p in parts).rstrip(";")
    return text if len(text) <= 400 else text[:399] + "…"


class _Mismatch(Exception):
    pass


def pr_command(remote: str, branch: str) -> str:
    """The pull request, left to `gh` (GitHub's API is not this tool's to call)."""
    match = _GITHUB.search(remote)
    repo = ["--repo", match.group(1)] if match else []
    body = "Written by `ci-toolkit init --batch`: config and tier-1 workflow (`ci-toolkit init --check`)."
    return shlex.join(["gh", "pr", "create", *repo, "--head", branch, "--title", PR_TITLE, "--body", body])
