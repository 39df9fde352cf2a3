"""Loaded into the test subprocess with `-p ci_toolkit.pytest_plugin`.

Registers the markers named in the ci-toolkit config (CI_TOOLKIT_MARKERS, one per line)
so pytest never warns about them, whatever the project's own pytest config says. Suite
expressions may only use those markers (checked at config load), so they are all registered.
With pytest-xdist the workers load this plugin too (`-p` options are passed on to them).
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig

import pytest


def pytest_configure(config: pytest.Config) -> None:
    for line in os.environ.get("CI_TOOLKIT_MARKERS", "").splitlines():
        if line.strip():
            config.addinivalue_line("markers", line.strip())


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """A warm run's pytest is forked ahead of time (`pytest_zygote`) and waits here, before any
    conftest or test module is imported, for ci-toolkit to say go: one JSON line with the final
    environment (the secrets, fetched meanwhile). End of file instead means the run stopped before
    its tests: exit without running one."""
    fd = os.environ.pop("CI_TOOLKIT_GATE_FD", None)
    if fd is None:
        return
    with os.fdopen(int(fd), "r", encoding="utf-8") as gate:
        line = gate.readline()
    if not line.strip():
        os._exit(3)
    final = json.loads(line)["env"]
    os.environ.clear()  # the final environment whole: nothing only the guess had survives
    os.environ.update(final)


def pytest_unconfigure(config: pytest.Config) -> None:
    """CI_TOOLKIT_IMPORTED: the installed (not the project's) modules this run imported, which a
    warm run's zygote imports ahead of time."""
    path = os.environ.get("CI_TOOLKIT_IMPORTED")
    if not path or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    installed = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    names = set()
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None) or ""
        if "." not in name and any(where.startswith(p) for p in installed):
            names.add(name)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(sorted(names)) + "\n")


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
