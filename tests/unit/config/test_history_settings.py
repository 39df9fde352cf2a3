"""`[history]`: where runs are recorded; mistakes named by key."""

from __future__ import annotations

from pathlib import Path

from ci_toolkit import config
from tests.conftest import config_error


def test_history_store_and_last_are_read(tmp_path: Path) -> None:
    (tmp_path / "ci-toolkit.toml").write_text('[history]\nstore = "s3://bucket/ci"\nlast = 12\n')
    loaded = config.load(tmp_path)
    assert (loaded.history.store, loaded.history.last) == ("s3://bucket/ci", 12)
    assert loaded.to_dict()["history"] == {"store": "s3://bucket/ci", "last": 12}


def test_no_history_table_records_nothing(tmp_path: Path) -> None:
    (tmp_path / "ci-toolkit.toml").write_text("")
    assert config.load(tmp_path).history.store is None


def test_history_mistakes_are_named(tmp_path: Path) -> None:
    message = config_error(tmp_path, '[history]\nstore = "s3:///prefix"\nlast = 0\nstroe = "x"\n')
    assert "history.store: 's3:///prefix' names no bucket: use s3://BUCKET/PREFIX" in message
    assert "history.last: must be 1 or more, got 0" in message
    assert "history.stroe: unknown key (did you mean 'store'?)" in message
