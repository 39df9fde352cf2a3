"""The shards' JUnit testcases: read each shard's (with its test id and outcome), write them as one.

The merged file is what an unsharded run writes: one `<testsuite>` holding every testcase, as
the shard wrote it (captured output and properties kept), in collection order.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_toolkit.errors import UsageError
from ci_toolkit.results.junit import OUTCOME_TAGS as OUTCOMES
from ci_toolkit.results.junit import XPASSED, teardown_error
from ci_toolkit.results.junit import case_id as test_id


@dataclass(frozen=True)
class Case:
    id: str
    outcome: str  # passed | failed | error | skipped | xfailed | xpassed | rerun (an attempt thrown away)
    shard: str  # "2/3"
    message: str  # the first line of the failure's (or skip's) message


Cases = list[tuple[Case, ET.Element | None]]  # None: a count with no testcase of its own (see `read`)


def read(path: Path, shard: str) -> Cases:
    if not path.is_file():
        return []  # the shard failed before pytest wrote it: its run.json says why
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise UsageError(f"{path}: not readable JUnit XML: {exc}") from None
    elements = list(root.iter("testcase"))
    ids = [test_id(element) for element in elements]
    # A teardown error is a testcase of its own after the test's (pytest writes a second one when
    # the call failed): it continues that test, it is no rerun attempt of it.
    teardown = [teardown_error([c for c in element if c.tag in OUTCOMES]) for element in elements]
    final = {test: i for i, test in enumerate(ids) if not teardown[i]}  # rerunfailures: the last attempt
    out: Cases = []
    for i, (element, test) in enumerate(zip(elements, ids, strict=True)):
        outcome = next((child for child in element if child.tag in OUTCOMES), None)
        text = "" if outcome is None else (outcome.get("message") or (outcome.text or "")).strip()
        first = text.splitlines()[0] if text else ""
        if teardown[i]:
            out.append((Case(test, "error", shard, first), element))
            if test not in final:  # the call passed: pytest counts the pass and the error
                out.append((Case(test, "passed", shard, ""), None))
            continue
        kind = "rerun" if final[test] != i else _kind(element, outcome)
        out.append((Case(test, kind, shard, first), element))
    return out


def _kind(element: ET.Element, outcome: ET.Element | None) -> str:
    """pytest's category of a testcase: xunit1 writes an xfail as `<skipped type="pytest.xfail">`."""
    if outcome is None:
        xpass = any(
            p.get("name") == XPASSED and p.get("value") == "xpassed" for p in element.iter("property")
        )
        return "xpassed" if xpass else "passed"
    if outcome.tag == "skipped":
        return "xfailed" if outcome.get("type") == "pytest.xfail" else "skipped"
    return "failed" if outcome.tag == "failure" else "error"


def flaky(cases: Sequence[Case]) -> tuple[str, ...]:
    """Tests that passed only on a rerun: a rerun attempt, then a pass (cases in attempt order)."""
    reran = {c.id for c in cases if c.outcome == "rerun"}
    return tuple(c.id for c in cases if c.id in reran and c.outcome in ("passed", "xpassed"))


def read_times(path: Path) -> dict[str, float]:
    """Each testcase's time by node id: what the durations ledger falls back on when a pytest
    without ci-toolkit's plugin ran the tests (no phase record)."""
    if not path.is_file():
        return {}
    times: dict[str, float] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.get("file") and case.get("name"):
            key = test_id(case)
            times[key] = times.get(key, 0.0) + float(case.get("time") or 0)
    return times


def in_collection_order(cases: Cases, collected: Sequence[str]) -> Cases:
    """As an unsharded run lists them; ids the collection lacks keep their place at the end."""
    rank = {nodeid: i for i, nodeid in enumerate(collected)}
    keyed = sorted(enumerate(cases), key=lambda ic: (rank.get(ic[1][0].id, len(rank)), ic[0]))
    return [pair for _, pair in keyed]


def write(sources: Sequence[Path], cases: Cases, path: Path) -> None:
    """`cases` as one suite; `sources` (the shards' junit.xml) give its time and timestamp."""
    suites = [s for p in sources if p.is_file() for s in ET.parse(p).iter("testsuite")]
    outcomes = [c.outcome for c, _ in cases]
    suite = ET.Element(
        "testsuite",
        name="pytest",
        errors=str(outcomes.count("error")),
        failures=str(outcomes.count("failed")),
        skipped=str(outcomes.count("skipped") + outcomes.count("xfailed")),  # as pytest counts them here
        tests=str(sum(1 for c, e in cases if e is not None and c.outcome != "rerun")),
        time=f"{sum(float(s.get('time') or 0) for s in suites):.3f}",  # the shards' time, added up
        timestamp=min((s.get("timestamp") or "" for s in suites), default=""),
    )
    suite.extend(element for _, element in cases if element is not None)
    top = ET.Element("testsuites", name="pytest tests")
    top.append(suite)
    ET.ElementTree(top).write(path, encoding="utf-8", xml_declaration=True)
