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
