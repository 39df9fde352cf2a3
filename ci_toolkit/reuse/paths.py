"""Where this machine keeps leases and snapshots: `CI_TOOLKIT_STATE_DIR`, else
`$XDG_STATE_HOME/ci-toolkit`, else `~/.local/state/ci-toolkit`. Not under the artifacts
directory: CI uploads that, and a lease outlives the run that made it."""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_VARIABLE = "CI_TOOLKIT_STATE_DIR"


def state_root() -> Path:
    explicit = os.environ.get(STATE_DIR_VARIABLE)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "ci-toolkit"


def leases_dir() -> Path:
    return state_root() / "leases"


def snapshots_dir() -> Path:
    return state_root() / "snapshots"
