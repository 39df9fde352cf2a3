"""All or nothing: a diff to read, then every file written or none (a failure while staging, a
file changed meanwhile, a read-only directory), with no temporary file left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ci_toolkit.errors import OnboardError
from ci_toolkit.onboard import changes
from ci_toolkit.onboard.model import FileChange, InitPlan
from tests.mounts import read_only


def _plan(root: Path, *files: tuple[str, str]) -> InitPlan:
    items = []
    for name, after in files:
        path = root / name
        items.append(FileChange(path, path.read_text() if path.exists() else None, after))
    return InitPlan(root, root / "ci-toolkit.toml", tuple(items))


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(changes.STAGED_SUFFIX)]


def test_apply_writes_new_and_existing_files_keeping_the_mode(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    os.chmod(tmp_path / "pyproject.toml", 0o600)
    plan = _plan(
        tmp_path, ("pyproject.toml", "[project]\n[tool.x]\n"), (".github/workflows/w.yml", "on: push\n")
    )
    written = changes.apply(plan)
    assert written == (tmp_path / "pyproject.toml", tmp_path / ".github/workflows/w.yml")
    assert (tmp_path / "pyproject.toml").read_text() == "[project]\n[tool.x]\n"
    assert (tmp_path / "pyproject.toml").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / ".github/workflows/w.yml").read_text() == "on: push\n"
    assert not _leftovers(tmp_path)


def test_diff_shows_new_and_changed_files_only(tmp_path: Path) -> None:
    (tmp_path / "same.txt").write_text("x\n")
    (tmp_path / "old.txt").write_text("a\n")
    plan = _plan(tmp_path, ("same.txt", "x\n"), ("old.txt", "b"), ("new.txt", "n\n"))
    text = changes.diff(plan)
    assert "same.txt" not in text
    assert "--- a/old.txt\n+++ b/old.txt\n" in text and "-a\n+b\n\\ No newline at end of file\n" in text
    assert "--- /dev/null\n+++ b/new.txt\n" in text and "+n\n" in text


def test_a_file_changed_since_it_was_read_stops_everything(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("1\n")
    (tmp_path / "b.txt").write_text("2\n")
    plan = _plan(tmp_path, ("a.txt", "one\n"), ("b.txt", "two\n"))
    (tmp_path / "b.txt").write_text("edited meanwhile\n")
    with pytest.raises(OnboardError, match=r"b.txt changed while init ran; nothing was changed"):
        changes.apply(plan)
    assert (tmp_path / "a.txt").read_text() == "1\n"
    assert not _leftovers(tmp_path)


def test_a_read_only_directory_leaves_every_file_and_directory_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (tmp_path / ".github").mkdir()
    plan = _plan(tmp_path, ("pyproject.toml", "changed\n"), (".github/workflows/w.yml", "on: push\n"))
    with read_only(tmp_path / ".github"), pytest.raises(OnboardError) as err:
        changes.apply(plan)
    assert str(err.value).startswith(
        "cannot write .github/workflows: Read-only file system; nothing was changed"
    )
    assert "make .github/ writable" in str(err.value)
    assert (tmp_path / "pyproject.toml").read_text() == "[project]\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".github", "pyproject.toml"]


def test_restore_puts_back_what_apply_wrote(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "dependabot.yml").write_text("version: 2\n")
    plan = _plan(tmp_path, ("pyproject.toml", "changed\n"), (".github/workflows/w.yml", "x\n"))
    changes.apply(plan)
    changes.restore(plan)
    assert (tmp_path / "pyproject.toml").read_text() == "[project]\n"
    assert not (tmp_path / ".github" / "workflows").exists()  # made for the new file: gone again
    assert (tmp_path / ".github" / "dependabot.yml").exists()
    assert not _leftovers(tmp_path)


def test_a_symlinked_file_stays_a_link_and_its_target_is_written(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "pyproject.toml").write_text("[project]\n")
    (tmp_path / "pyproject.toml").symlink_to("shared/pyproject.toml")
    plan = _plan(tmp_path, ("pyproject.toml", "[project]\n[tool.x]\n"))
    changes.apply(plan)
    assert (tmp_path / "pyproject.toml").is_symlink()
    assert (tmp_path / "shared" / "pyproject.toml").read_text() == "[project]\n[tool.x]\n"
    changes.restore(plan)
    assert (tmp_path / "pyproject.toml").is_symlink()
    assert (tmp_path / "shared" / "pyproject.toml").read_text() == "[project]\n"
