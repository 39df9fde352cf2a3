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

OUTCOMES = ("failure", "error", "skipped")


@dataclass(frozen=True)
class Case:
    id: str
    outcome: str  # passed | failed | error | skipped
    shard: str  # "2/3"
    message: str  # the first line of the failure's (or skip's) message


Cases = list[tuple[Case, ET.Element]]


def read(path: Path, shard: str) -> Cases:
    if not path.is_file():
        return []  # the shard failed before pytest wrote it: its run.json says why
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise UsageError(f"{path}: not readable JUnit XML: {exc}") from None
    out = []
    for element in root.iter("testcase"):
        outcome = next((child for child in element if child.tag in OUTCOMES), None)
        kind = "passed" if outcome is None else {"failure": "failed"}.get(outcome.tag, outcome.tag)
        text = "" if outcome is None else (outcome.get("message") or (outcome.text or "")).strip()
        first = text.splitlines()[0] if text else ""
        out.append((Case(test_id(element), kind, shard, first), element))
    return out


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


def test_id(case: ET.Element) -> str:
    """The pytest node id of an xunit1 testcase (xunit1 keeps the file): the file, the class path
    under the module, the name."""
    file, classname, name = case.get("file"), case.get("classname", ""), case.get("name", "")
    if not file:
        return f"{classname}::{name}"
    module = file.removesuffix(".py").replace("/", ".")
    inner = classname[len(module) + 1 :].split(".") if classname.startswith(module + ".") else []
    return "::".join([file, *inner, name])


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
        skipped=str(outcomes.count("skipped")),
        tests=str(len(cases)),
        time=f"{sum(float(s.get('time') or 0) for s in suites):.3f}",  # the shards' time, added up
        timestamp=min((s.get("timestamp") or "" for s in suites), default=""),
    )
    suite.extend(element for _, element in cases)
    top = ET.Element("testsuites", name="pytest tests")
    top.append(suite)
    ET.ElementTree(top).write(path, encoding="utf-8", xml_declaration=True)
