from __future__ import annotations

from pathlib import Path

import pytest

from ci_toolkit.errors import ConfigError
from ci_toolkit.pipeline.migrations import discover


def test_files_are_ordered_by_number_not_name(tmp_path: Path) -> None:
    for name in ("010_c.sql", "002_b.sql", "001_a.sql"):
        (tmp_path / name).write_text("SELECT 1;")
    assert [m.name for m in discover(tmp_path)] == ["001_a.sql", "002_b.sql", "010_c.sql"]


def test_badly_named_file_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "create.sql").write_text("")
    with pytest.raises(ConfigError, match=r"NNN_description\.sql"):
        discover(tmp_path)


def test_duplicate_version(tmp_path: Path) -> None:
    (tmp_path / "001_a.sql").write_text("")
    (tmp_path / "1_b.sql").write_text("")
    with pytest.raises(ConfigError, match="version 1 is also used"):
        discover(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        discover(tmp_path / "nope")
