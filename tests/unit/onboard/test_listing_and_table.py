"""`init --batch`'s pieces that need no git: the listing, masking remotes, the table, the gh line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_toolkit.errors import UsageError
from ci_toolkit.onboard import batch_table, gitops
from ci_toolkit.onboard.batch_run import RepoResult, pr_command, read_repos


def test_the_listing_skips_comments_and_blanks_and_keeps_each_remote_once(tmp_path: Path) -> None:
    listing = tmp_path / "repos.txt"
    listing.write_text("# team A\n/srv/a.git\n\nfile:///srv/b.git  # b\n/srv/a.git\n")
    assert read_repos(listing) == ("/srv/a.git", "file:///srv/b.git")


@pytest.mark.parametrize(
    ("text", "message"), [("\n# only comments\n", "no remotes in it"), ("a b\n", ":1: one remote")]
)
def test_a_listing_without_remotes_or_with_junk_names_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    listing = tmp_path / "repos.txt"
    listing.write_text(text)
    with pytest.raises(UsageError, match=message):
        read_repos(listing)


def test_credentials_in_a_remote_are_never_shown() -> None:
    remote = "https://bot:ghp_s3cr3t@github.com/acme/shop.git"
    assert gitops.masked(remote) == "https://***@github.com/acme/shop.git"
    assert gitops.credentials(remote) == "ghp_s3cr3t"
    assert gitops.masked("git@github.com:acme/shop.git") == "git@github.com:acme/shop.git"  # ssh: no secret
    assert gitops.credentials("/srv/a.git") is None


def test_the_gh_line_names_the_github_repository_when_there_is_one() -> None:
    assert "--repo acme/shop --head ci-toolkit/onboard" in pr_command(
        "git@github.com:acme/shop.git", "ci-toolkit/onboard"
    )
    assert "--repo acme/shop " in pr_command("https://***@github.com/acme/shop", "b")
    assert "--repo" not in pr_command("/srv/a.git", "b")


def test_the_table_has_a_row_per_repository_a_summary_and_the_gh_lines() -> None:
    rows = [
        RepoResult(
            "/srv/a.git",
            "onboarded",
            "pushed b",
            "b",
            "abc",
            ("pyproject.toml",),
            1.25,
            "gh pr create --head b",
        ),
        RepoResult("/srv/long-name.git", "rolled back", "push: refused", "b", seconds=0.5),
    ]
    lines = batch_table.table(rows, 1.7)
    assert lines[0].split() == ["repository", "result", "time", "details"]
    assert lines[1].startswith("/srv/a.git          onboarded  ") and lines[1].endswith("1.2s  pushed b")
    assert "2 repositories in 1.7s: 1 onboarded, 1 rolled back" in lines
    assert lines[-1] == "  gh pr create --head b"
    assert batch_table.as_json(rows, 1.7)["status"] == "failed"
