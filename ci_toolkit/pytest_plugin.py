"""Loaded into the test subprocess with `-p ci_toolkit.pytest_plugin`.

Registers the markers named in the ci-toolkit config (CI_TOOLKIT_MARKERS, one per line)
so pytest never warns about them, whatever the project's own pytest config says. Suite
expressions may only use those markers (checked at config load), so they are all registered.
With pytest-xdist the workers load this plugin too (`-p` options are passed on to them).

Each process's own values (`--workers N`, README "Workers"): CI_TOOLKIT_WORKER_ENV holds, per xdist
worker, the exports that differ between workers ({"gw0": {"DATABASE_URL": ...}, ...}); a worker
puts its own into os.environ before any conftest is imported, and every process says who it is
in CI_TOOLKIT_WORKER (gw0, gw1 … or main) and CI_TOOLKIT_WORKER_INDEX (0 for main). A worker that
xdist starts in place of a crashed one takes over the crashed one's values (and data).
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
from collections.abc import Iterator

import pytest

WORKER_ENV = "CI_TOOLKIT_WORKER_ENV"
TAKES_OVER = "CI_TOOLKIT_WORKER_TAKES_OVER"  # set by the controller for the replacement it starts
_replacing: dict[str, str] = {}  # controller: a replacement worker's id -> the worker it replaced


def pytest_configure(config: pytest.Config) -> None:
    for line in os.environ.get("CI_TOOLKIT_MARKERS", "").splitlines():
        if line.strip():
            config.addinivalue_line("markers", line.strip())
    planned = os.environ.get(WORKER_ENV)
    if planned is not None and not os.environ.get("PYTEST_XDIST_WORKER"):
        # The controller, before it starts a worker: as many as ci-toolkit made data for.
        xdist = getattr(config.option, "dist", "no") != "no"
        started = len(getattr(config.option, "tx", None) or []) if xdist else 0
        table = json.loads(planned)
        if started != len(table):
            raise pytest.UsageError(
                f"pytest would start {started} xdist workers, and ci-toolkit gave {len(table)} their own "
                "data (--workers): give the number of workers only to ci-toolkit's --workers, not -n"
            )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """A warm run's pytest is forked ahead of time (`pytest_zygote`) and waits here, before any
    conftest or test module is imported, for ci-toolkit to say go: one JSON line with the final
    environment (the secrets, fetched meanwhile). End of file instead means the run stopped before
    its tests: exit without running one. Then, in every process, its worker values."""
    fd = os.environ.pop("CI_TOOLKIT_GATE_FD", None)
    if fd is not None:
        with os.fdopen(int(fd), "r", encoding="utf-8") as gate:
            line = gate.readline()
        if not line.strip():
            os._exit(3)
        final = json.loads(line)["env"]
        os.environ.clear()  # the final environment whole: nothing only the guess had survives
        os.environ.update(final)
    _become_worker()  # after the gate: the worker values come with the final environment


def _become_worker() -> None:
    """This process's worker values over the ordinary (`main`) environment, and who it is."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # set by xdist before a worker's config is made
    takes_over = os.environ.pop(TAKES_OVER, None)
    name = worker or "main"
    planned = os.environ.get(WORKER_ENV)
    if worker and planned is not None:
        table = json.loads(planned)
        if worker not in table and takes_over in table:  # xdist gave the replacement a new id
            name = str(takes_over)
        if name not in table:
            raise pytest.UsageError(
                f"ci-toolkit gave {len(table)} xdist workers their own data ({', '.join(table) or 'none'}), "
                f"not {worker}: let ci-toolkit start the workers with --workers N, not pytest's -n"
            )
        os.environ.update(table[name])
    os.environ["CI_TOOLKIT_WORKER"] = name
    os.environ["CI_TOOLKIT_WORKER_INDEX"] = name[2:] if name[:2] == "gw" and name[2:].isdigit() else "0"


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """Controller: a worker died (xdist starts a replacement next, with a new id): the
    replacement is told whose values to take, in the environment it inherits."""
    if error is None:
        return
    gone = str(getattr(getattr(node, "gateway", None), "id", ""))
    os.environ[TAKES_OVER] = _replacing.pop(gone, gone)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_newgateway(gateway: object) -> None:
    taken = os.environ.pop(TAKES_OVER, None)
    if taken is not None:
        _replacing[str(getattr(gateway, "id", ""))] = taken


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


XPASSED = "ci_toolkit.outcome"  # the testcase property results.junit reads (JUnit has no xpass element)


def outcome_of(report: pytest.TestReport) -> str | None:
    """The category pytest's terminal line counts this report in, None for none: pytest's own rules
    (a failed setup or teardown is an error), xfail's (`wasxfail`) and pytest-rerunfailures'
    (`outcome == "rerun"`: an attempt thrown away)."""
    if report.outcome == "rerun":  # type: ignore[comparison-overlap]  # rerunfailures' own outcome
        return "rerun"
    if hasattr(report, "wasxfail") and not report.failed:
        return "xfailed" if report.skipped else "xpassed"
    if report.skipped:
        return "skipped"
    if report.failed:
        return "failed" if report.when == "call" else "error"
    return "passed" if report.when == "call" else None


@pytest.hookimpl(hookwrapper=True)  # old-style: the project's own (older) pytest may run this plugin
def pytest_runtest_makereport(item: pytest.Item, call: object) -> Iterator[None]:
    """Mark an xpass in JUnit (a property on its testcase), which otherwise reads as a pass: what
    `report merge` counts when it has only the JUnit. In the process that ran the test."""
    made = yield
    report = made.get_result()  # type: ignore[attr-defined]  # pluggy's Result
    if isinstance(report, pytest.TestReport) and report.when == "call" and outcome_of(report) == "xpassed":
        item.user_properties.append((XPASSED, "xpassed"))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """One line per report pytest counts (CI_TOOLKIT_PROGRESS), appended as it comes: the run's
    counts in pytest's categories, and the tests that did finish when pytest is killed before it
    writes JUnit XML."""
    outcome = outcome_of(report)
    if outcome is not None:
        _record(outcome, report.nodeid)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:  # pytest counts a module that failed to import as an error
        _record("error", report.nodeid)


def _record(outcome: str, nodeid: str) -> None:
    path = os.environ.get("CI_TOOLKIT_PROGRESS")
    if not path or os.environ.get("PYTEST_XDIST_WORKER"):  # with xdist the controller writes
        return
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{outcome}\t{nodeid}\n")
