"""`ci-toolkit init --batch` over real bare remotes: each fixture repository gets the right result,
the refused one is rolled back, the others are pushed, and no one else's branch is touched."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ci_toolkit.onboard import batch_run as batch
from ci_toolkit.onboard.model import InitOptions
from tests.conftest import run_cli
from tests.init_remotes import BARE, DEV, branch_names, git, hook, remote, tree
from tests.integration.test_init import PYPROJECT

pytestmark = pytest.mark.integration

BRANCH = "ci-toolkit/onboard"
WORKFLOW = ".github/workflows/integration-tests.yml"


def _onboarded_remote(base: Path) -> Path:
    """A repository someone already ran init in, committed and pushed on main."""
    bare = remote(base, "done", DEV)
    work = base / "done-clone"
    git(base, "clone", "-q", str(bare), str(work))
    assert run_cli(["init"], work).returncode == 0
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "ci-toolkit")
    git(work, "push", "-q", "origin", "main")
    return bare


def test_a_batch_of_five_fixtures_each_gets_its_result(tmp_path: Path) -> None:
    dev = remote(tmp_path, "dev", DEV)
    empty = remote(tmp_path, "empty", BARE)
    done = _onboarded_remote(tmp_path)
    commented = remote(tmp_path, "commented", {**DEV, "pyproject.toml": PYPROJECT + "\n# the end\n"})
    refused = remote(tmp_path, "refused", DEV)
    hook(refused, "pre-receive", 'echo "pushes here need a review (policy 7)"\nexit 1\n')
    listing = tmp_path / "repos.txt"
    listing.write_text(
        f"# the platform team's repositories\n{dev}\nfile://{empty}\n\n"
        f"{done}\n{commented}  # comments\n{refused}\n"
    )

    result = run_cli(["init", "--batch", str(listing), "--with", "postgres", "--push", "--json"], tmp_path)
    assert result.returncode == 9, result.output  # one was rolled back
    rows = {Path(r["remote"].removeprefix("file://")).name: r for r in result.json()["repositories"]}
    assert {name: r["status"] for name, r in rows.items()} == {
        "dev.git": "onboarded",
        "empty.git": "onboarded",
        "done.git": "already onboarded",
        "commented.git": "onboarded",
        "refused.git": "rolled back",
    }
    assert "pushes here need a review (policy 7)" in rows["refused.git"]["reason"]
    assert all(r["seconds"] > 0 for r in rows.values())
    assert "gh pr create --head ci-toolkit/onboard" in rows["dev.git"]["pr_command"]

    for bare in (dev, empty, commented):
        assert branch_names(bare) == [BRANCH, "main"]
        assert WORKFLOW in tree(bare, BRANCH)
    assert "docker-compose.test.yml" in tree(empty, BRANCH)  # written from --with postgres
    assert branch_names(done) == ["main"] and branch_names(refused) == ["main"]
    pushed = git(commented, "show", f"{BRANCH}:pyproject.toml")
    assert pushed.startswith(PYPROJECT + "\n# the end\n")  # every byte outside our block kept

    table = result.stderr  # --json: the table goes to stderr
    assert "5 repositories in" in table and "3 onboarded" in table and "1 rolled back" in table
    assert "[5/5]" in table

    again = run_cli(["init", "--batch", str(listing), "--with", "postgres", "--push"], tmp_path)
    assert again.stdout.count("on branch ci-toolkit/onboard (pushed before)") == 3  # the three pushed


def test_dry_run_pushes_nothing(tmp_path: Path) -> None:
    dev = remote(tmp_path, "dev", DEV)
    listing = tmp_path / "repos.txt"
    listing.write_text(f"{dev}\n")
    dry = run_cli(["init", "--batch", str(listing), "--dry-run", "--push"], tmp_path)
    assert dry.returncode == 0, dry.output
    assert "would onboard" in dry.stdout and "would write pyproject.toml" in dry.stdout
    assert branch_names(dev) == ["main"]


def test_a_push_lost_after_the_remote_took_it_is_deleted_again(tmp_path: Path) -> None:
    """The connection drops after the remote updated the branch (its post-receive hook stalls past
    our timeout): the branch, still our commit, is deleted again."""
    slow = remote(tmp_path, "slow", DEV)
    hook(
        slow,
        "post-receive",
        f'while read old new ref; do [ "$new" = {"0" * 40} ] || sleep 30; done\n',
    )
    options = batch.BatchOptions(push=True, timeout=4, init=InitOptions(), workdir=tmp_path / "work")
    started = time.monotonic()
    (result,) = batch.run([str(slow)], options)
    assert time.monotonic() - started < 25
    assert result.status == "rolled back", result
    assert "no answer within 4s" in result.reason and "nothing of it is on the remote" in result.reason
    assert branch_names(slow) == ["main"]


def test_a_branch_of_that_name_on_the_remote_is_someone_elses_and_left_alone(tmp_path: Path) -> None:
    theirs = remote(tmp_path, "theirs", DEV)
    git(theirs, "branch", BRANCH, "main")  # someone's work under the same name
    before = git(theirs, "rev-parse", BRANCH)
    (result,) = batch.run([str(theirs)], batch.BatchOptions(push=True, workdir=tmp_path / "w"))
    assert result.status == "failed"
    assert f"the remote already has a branch {BRANCH}" in result.reason
    assert git(theirs, "rev-parse", BRANCH) == before


def test_a_clone_that_fails_is_named_and_the_others_go_on(tmp_path: Path) -> None:
    dev = remote(tmp_path, "dev", DEV)
    listing = tmp_path / "repos.txt"
    listing.write_text(f"{tmp_path / 'missing.git'}\nhttps://user:s3cr3t-t0ken@127.0.0.1:9/x.git\n{dev}\n")
    result = run_cli(["init", "--batch", str(listing), "--json"], tmp_path)
    assert result.returncode == 9
    rows = result.json()["repositories"]
    assert [r["status"] for r in rows] == ["failed", "failed", "onboarded"]
    assert rows[0]["reason"].startswith("git clone:")
    assert rows[1]["remote"] == "https://***@127.0.0.1:9/x.git"
    assert "s3cr3t-t0ken" not in result.output
    assert json.dumps(rows).count("s3cr3t") == 0


def test_a_listing_with_two_words_on_a_line_names_the_line(tmp_path: Path) -> None:
    listing = tmp_path / "repos.txt"
    listing.write_text("a.git\nb.git c.git\n")
    result = run_cli(["init", "--batch", str(listing)], tmp_path)
    assert result.returncode == 2 and f"{listing}:2: one remote per line" in result.stderr


def test_the_commit_is_ci_toolkits_and_a_workdir_can_be_used_twice(tmp_path: Path) -> None:
    dev = remote(tmp_path, "dev", DEV)
    work = tmp_path / "work"
    (first,) = batch.run([str(dev)], batch.BatchOptions(workdir=work))  # not pushed: kept in work/
    (second,) = batch.run([str(dev)], batch.BatchOptions(workdir=work, push=True))
    assert (first.status, second.status) == ("onboarded", "onboarded"), (first, second)
    assert "ci-toolkit-batch-" in first.reason  # where the unpushed commit is
    assert git(dev, "log", "-1", "--format=%an <%ae>", BRANCH).strip() == "ci-toolkit <ci-toolkit@localhost>"


def test_a_branch_moved_by_someone_else_after_our_push_is_left_to_them(tmp_path: Path) -> None:
    """A server-side bot (or a colleague) moves the branch right after our push: it is theirs."""
    raced = remote(tmp_path, "raced", DEV)
    main = git(raced, "rev-parse", "main").strip()
    hook(raced, "post-receive", f"git update-ref refs/heads/{BRANCH} {main}\n")
    (result,) = batch.run([str(raced)], batch.BatchOptions(push=True, workdir=tmp_path / "w"))
    assert result.status == "failed", result
    assert "someone else's now: left alone" in result.reason
    assert git(raced, "rev-parse", BRANCH).strip() == main  # not deleted


def test_a_relative_path_in_the_listing_is_the_callers(tmp_path: Path) -> None:
    remote(tmp_path, "rel", DEV)
    listing = tmp_path / "lists" / "repos.txt"
    listing.parent.mkdir()
    listing.write_text("rel.git\t# tab before the comment\n")
    result = run_cli(["init", "--batch", str(listing), "--push", "--json"], tmp_path)
    assert result.returncode == 0, result.output
    assert result.json()["repositories"][0]["remote"] == str(tmp_path / "rel.git")


def test_ctrl_c_starts_no_further_repository_and_leaves_none_half_done(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    remotes = [remote(tmp_path, f"r{i}", DEV) for i in range(6)]
    for bare in remotes:
        hook(bare, "pre-receive", "sleep 1\n")  # each push takes a second: time to press Ctrl-C
    listing = tmp_path / "repos.txt"
    listing.write_text("".join(f"{r}\n" for r in remotes))
    cmd = [
        sys.executable,
        "-m",
        "ci_toolkit",
        "init",
        "--batch",
        str(listing),
        "--push",
        "--concurrency",
        "1",
    ]
    child = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, "CI": "true"})  # fmt: skip
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("[1/6]"):
            child.send_signal(signal.SIGINT)
            break
    rest, _ = child.communicate(timeout=60)
    assert child.returncode == 130, rest
    pushed = [r for r in remotes if BRANCH in branch_names(r)]
    assert 1 <= len(pushed) < 6  # the first, the one running when Ctrl-C came (on a loaded machine
    # the line can reach us a repository late): never all six
    for bare in pushed:  # whole: the setup is there, not a half-written tree
        assert WORKFLOW in tree(bare, BRANCH)
