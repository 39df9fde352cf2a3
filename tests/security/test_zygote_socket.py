"""The warm pytest's socket carries the tests' environment (secrets included): it lives only in a
directory that this user alone can enter, and nothing else is accepted."""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path

import pytest

from ci_toolkit.errors import InfrastructureError
from ci_toolkit.reuse import zygote


@pytest.fixture
def tmpdir_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_the_socket_goes_into_a_private_directory(tmpdir_here: Path) -> None:
    path = Path(zygote.socket_path("citk-x-lease-1"))
    assert path.parent == tmpdir_here / f"ci-toolkit-{os.getuid()}"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert len(str(path)) < 100  # unix socket paths are limited


def test_a_directory_others_can_enter_is_refused(tmpdir_here: Path) -> None:
    shared = tmpdir_here / f"ci-toolkit-{os.getuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # e.g. made by someone else beforehand to catch the secrets
    with pytest.raises(InfrastructureError, match="is not a private directory of this user"):
        zygote.socket_path("citk-x-lease-1")


def test_a_symlink_planted_in_its_place_is_refused(tmpdir_here: Path) -> None:
    target = tmpdir_here / "elsewhere"
    target.mkdir(mode=0o700)
    (tmpdir_here / f"ci-toolkit-{os.getuid()}").symlink_to(target)
    with pytest.raises(InfrastructureError, match="not a private directory"):
        zygote.socket_path("citk-x-lease-1")


def test_no_listener_means_no_warm_pytest(tmpdir_here: Path, state_dir: Path) -> None:
    assert zygote.alive("citk-x-lease-1") is False
    assert zygote.fork("citk-x-lease-1", sys.executable, ["-q"], tmpdir_here, {"SECRET": "x"}) is None


def test_another_interpreter_gets_another_socket(tmpdir_here: Path) -> None:
    assert zygote.socket_path("citk-x-lease-1", "/venv-a/bin/python") != zygote.socket_path(
        "citk-x-lease-1", "/venv-b/bin/python"
    )
