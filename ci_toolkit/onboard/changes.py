"""Showing and writing what init decided: a unified diff, and an all-or-nothing apply.

Every file is first written whole to a temporary name beside it (same directory, so the rename
is atomic); only when all are staged are they renamed into place. A failure while staging
leaves every file as it was; a failure while renaming (rare: the directory is the same) puts the
renamed ones back. A file that changed since init read it is not overwritten.
"""

from __future__ import annotations

import contextlib
import difflib
import os
from pathlib import Path

from ci_toolkit.errors import OnboardError
from ci_toolkit.onboard.model import FileChange, InitPlan

STAGED_SUFFIX = ".ci-toolkit-init.tmp"


def diff(plan: InitPlan) -> str:
    parts = []
    for change in plan.pending:
        name = change.path.relative_to(plan.root).as_posix()
        before = (change.before or "").splitlines(keepends=True)
        after = change.after.splitlines(keepends=True)
        old = f"a/{name}" if change.before is not None else "/dev/null"
        lines = difflib.unified_diff(before, after, old, f"b/{name}")
        parts.append(
            "".join(
                line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
            )
        )
    return "".join(parts)


def apply(plan: InitPlan) -> tuple[Path, ...]:
    """Write every pending change, or none. Returns the files written."""
    pending = plan.pending
    created_dirs: list[Path] = []
    staged: list[tuple[FileChange, Path]] = []
    try:
        for change in pending:
            _unchanged_since_read(change, plan.root)
            created_dirs += _make_parents(change.path, plan.root)
            staged.append((change, _stage(change, plan.root)))
    except BaseException:
        _discard([tmp for _, tmp in staged], created_dirs)
        raise
    done: list[FileChange] = []
    try:
        for change, tmp in staged:
            os.replace(tmp, _target(change.path))
            done.append(change)
    except BaseException as exc:
        _restore(done)
        _discard([tmp for c, tmp in staged if c not in done], created_dirs)
        if isinstance(exc, OSError):
            raise _error(exc, staged[len(done)][0].path, plan.root) from None
        raise
    return tuple(c.path for c in pending)


def restore(plan: InitPlan) -> None:
    """Undo `apply` (used when the config check of what was written fails): files as they were,
    and the directories made for new ones removed again when empty."""
    _restore(list(plan.pending))
    for change in plan.pending:
        if change.before is None:
            for directory in change.path.parents:
                if directory == plan.root or not directory.is_relative_to(plan.root):
                    break
                try:
                    directory.rmdir()
                except OSError:  # not empty: it held something before
                    break


def _unchanged_since_read(change: FileChange, root: Path) -> None:
    try:
        now: str | None = change.path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        now = None
    except (OSError, UnicodeDecodeError) as exc:
        raise OnboardError(f"cannot read {_name(change.path, root)}: {exc}; nothing was changed") from None
    if now != change.before:
        raise OnboardError(
            f"{_name(change.path, root)} changed while init ran; nothing was changed",
            hint="run ci-toolkit init again",
        )


def _make_parents(path: Path, root: Path) -> list[Path]:
    missing = [p for p in reversed(path.parents) if not p.exists()]
    made: list[Path] = []
    for directory in missing:
        try:
            directory.mkdir()
        except OSError as exc:
            _discard([], made)
            raise _error(exc, directory, root) from None
        made.append(directory)
    return made


def _target(path: Path) -> Path:
    """Where a file's bytes go: a symlinked pyproject.toml keeps being a link, its target is written."""
    return path.resolve() if path.is_symlink() else path


def _stage(change: FileChange, root: Path) -> Path:
    target = _target(change.path)
    tmp = target.with_name(target.name + STAGED_SUFFIX)
    try:
        mode = target.stat().st_mode & 0o7777 if target.exists() else 0o644
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(change.after)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # not narrowed by the umask: the file keeps the mode it had
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _error(exc, change.path, root) from None
    return tmp


def _restore(done: list[FileChange]) -> None:
    for change in reversed(done):
        with contextlib.suppress(OSError, OnboardError):
            if change.before is None:
                change.path.unlink()
            else:  # staged like any write: the file keeps its mode (and stays a link if it was one)
                put_back = FileChange(change.path, None, change.before)
                os.replace(_stage(put_back, change.path.parent), _target(change.path))


def _discard(tmps: list[Path], dirs: list[Path]) -> None:
    for tmp in tmps:
        with contextlib.suppress(OSError):
            tmp.unlink()
    for directory in reversed(dirs):
        with contextlib.suppress(OSError):
            directory.rmdir()


def _error(exc: OSError, path: Path, root: Path) -> OnboardError:
    where = _name(path, root)
    reason = exc.strerror or str(exc)
    parent = _name(path.parent, root) + "/"
    return OnboardError(
        f"cannot write {where}: {reason}; nothing was changed",
        hint=f"make {parent} writable (or free space), then run ci-toolkit init again",
    )


def _name(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix() or "."
    except ValueError:
        return str(path)
