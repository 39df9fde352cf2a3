"""Reading what pytest wrote: JUnit XML (counts and failed tests with file and line) and
coverage XML (the line rate). Used by the test step and by `report merge`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ci_toolkit.results.model import FailedTest, TestCounts
from ci_toolkit.results.progress import read_record

OUTCOME_TAGS = ("failure", "error", "skipped")
XPASSED = "ci_toolkit.outcome"  # the plugin's testcase property for an xpass (JUnit has no element for one)


def read_junit(path: Path, root: Path | None = None, record: Path | None = None) -> TestCounts:
    """Counts in pytest's categories and the failed tests (file, line, message) of a JUnit file.

    `record`: the plugin's per-test record, when the run wrote one, gives the counts (it saw every
    report pytest counted); JUnit still gives the failures. From JUnit alone: a testcase whose id
    comes again later was an attempt pytest-rerunfailures threw away (a rerun), `<skipped
    type="pytest.xfail">` is an xfail, and an xpass is known only by the plugin's property."""
    recorded = read_record(record) if record is not None else None
    if not path.is_file():
        return recorded or TestCounts()
    cases = list(ET.parse(path).getroot().iter("testcase"))
    ids = [case_id(case) for case in cases]
    # A teardown error is a testcase of its own after the test's when the call failed: it
    # continues that test and is no rerun attempt (rerunfailures: each id's last testcase).
    teardown = [
        teardown_error([c for c in case if c.tag in ("failure", "error", "skipped")]) for case in cases
    ]
    final = {test: i for i, test in enumerate(ids) if not teardown[i]}
    outcomes: list[tuple[str, str]] = []
    failures: list[FailedTest] = []
    for i, (case, test) in enumerate(zip(cases, ids, strict=True)):
        if not teardown[i] and final[test] != i:
            outcomes.append(("rerun", test))
            continue
        found = [child for child in case if child.tag in OUTCOME_TAGS]
        outcomes += [(_outcome(case, child), test) for child in found] or [(_passed(case), test)]
        if teardown[i] and test not in final:  # the call passed; pytest counts it and the teardown error
            outcomes.append(("passed", test))
        bad = next((child for child in found if child.tag in ("failure", "error")), None)
        if bad is not None:
            failures.append(_failed(case, bad, root or Path.cwd()))
    counts = recorded or TestCounts.tally(outcomes)
    return counts.with_failures(tuple(failures))


def case_id(case: ET.Element) -> str:
    """The pytest node id of an xunit1 testcase (file, class path under the module, name)."""
    file, classname, name = case.get("file"), case.get("classname", ""), case.get("name", "")
    if not file:
        return f"{classname}::{name}"
    module = file.removesuffix(".py").replace("/", ".")
    inner = classname[len(module) + 1 :].split(".") if classname.startswith(module + ".") else []
    return "::".join([file, *inner, name])


def _outcome(case: ET.Element, child: ET.Element) -> str:
    if child.tag == "skipped":
        return "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
    return "failed" if child.tag == "failure" else "error"


def _passed(case: ET.Element) -> str:
    marked = any(p.get("name") == XPASSED and p.get("value") == "xpassed" for p in case.iter("property"))
    return "xpassed" if marked else "passed"


def teardown_error(found: list[ET.Element]) -> bool:
    """A testcase's outcome elements hold only an error from the test's teardown."""
    return (
        len(found) == 1
        and found[0].tag == "error"
        and (found[0].get("message") or "").startswith("failed on teardown")
    )


def _failed(case: ET.Element, outcome: ET.Element, root: Path) -> FailedTest:
    classname = case.get("classname", "")
    name = case.get("name", "")
    file = case.get("file")
    line = case.get("line")
    if not file and classname:
        # pytest's classname is the dotted module path (plus class); recover the file.
        parts = classname.split(".")
        for cut in range(len(parts), 0, -1):
            candidate = "/".join(parts[:cut]) + ".py"
            if (root / candidate).is_file():
                file = candidate
                break
    message = outcome.get("message") or ""
    if not message:
        lines = (outcome.text or "").strip().splitlines()
        message = lines[-1] if lines else ""
    test_id = f"{file}::{name}" if file else f"{classname}::{name}"
    lineno = int(line) + 1 if line else None
    if file:
        # pytest's report ends with "path:LINE: ExcType" for each frame; the last one in the
        # test's own file is the failing line, better than the test's `def` for an annotation.
        frames = re.findall(rf"(?m)^{re.escape(file)}:(\d+): ", outcome.text or "")
        if frames:
            lineno = int(frames[-1])
    return FailedTest(test_id, file, lineno, message[:2000])


def read_coverage(path: Path) -> float | None:
    if not path.is_file():
        return None
    rate = ET.parse(path).getroot().get("line-rate")
    return float(rate) * 100 if rate is not None else None
