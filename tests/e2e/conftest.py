"""Shared by the end-to-end tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _drop_act_workspace(tmp_path: Path) -> Iterator[None]:
    """act's per-run dir holds a copy of the checkout and a virtualenv (~150 MB): not kept."""
    yield
    shutil.rmtree(tmp_path / "act", ignore_errors=True)
