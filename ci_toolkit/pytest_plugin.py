"""Loaded into the test subprocess with `-p ci_toolkit.pytest_plugin`.

Registers the markers named in the ci-toolkit config (CI_TOOLKIT_MARKERS, one per line)
so pytest never warns about them, whatever the project's own pytest config says.
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    for line in os.environ.get("CI_TOOLKIT_MARKERS", "").splitlines():
        if line.strip():
            config.addinivalue_line("markers", line.strip())
