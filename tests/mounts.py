"""Filesystems a test can make read-only or full for real (a bind mount, a small tmpfs); they need
root, as CI runs, and skip without it."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting needs root (CI runs as root)")


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[Path]:
    """`directory` bound onto itself read-only: writes fail with EROFS, even for root."""
    _need_root()
    subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True)
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


@contextlib.contextmanager
def tmpfs(directory: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "256k") mounted on `directory` (made if missing): a disk that fills."""
    _need_root()
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], check=True)
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)
