"""Loaded into the test subprocess with `-p ci_toolkit.pytest_plugin`.

Registers the markers named in the ci-toolkit config (CI_TOOLKIT_MARKERS, one per line)
so pytest never warns about them, whatever the project's own pytest config says. Suite
expressions may only use those markers (checked at config load), so they are all registered.
With pytest-xdist the workers load this plugin too (`-p` options are passed on to them).
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    for line in os.environ.get("CI_TOOLKIT_MARKERS", "").splitlines():
        if line.strip():
            config.addinivalue_line("markers", line.strip())


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which suite and matrix cell this run is, at the top of the output and pytest.log."""
    suite = os.environ.get("CI_TOOLKIT_SUITE")
    cell = os.environ.get("CI_TOOLKIT_MATRIX_CELL")
    iteration = os.environ.get("CI_TOOLKIT_ITERATION")
    parts = [f"suite {suite}" if suite else "", f"matrix cell {cell}" if cell else ""]
    parts.append(f"soak iteration {iteration}" if iteration else "")
    shown = ", ".join(p for p in parts if p)
    return [f"ci-toolkit: {shown}"] if shown else []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """One line per finished test, appended as it finishes (CI_TOOLKIT_PROGRESS), so the tests
    that did finish are known even when pytest is killed before it writes JUnit XML."""
    path = os.environ.get("CI_TOOLKIT_PROGRESS")
    if not path or os.environ.get("PYTEST_XDIST_WORKER"):  # with xdist the controller writes
        return
    outcome: str | None = None
    if report.when == "call":
        outcome = "skipped" if report.skipped else report.outcome
    elif report.when == "setup" and not report.passed:
        outcome = "skipped" if report.skipped else "error"
    elif report.when == "teardown" and report.failed:
        outcome = "error"
    if outcome is not None:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{outcome}\t{report.nodeid}\n")
