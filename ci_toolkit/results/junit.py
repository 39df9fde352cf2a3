"""Reading what pytest wrote: JUnit XML (counts and failed tests with file and line) and
coverage XML (the line rate). Used by the test step and by `report merge`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from ci_toolkit.results.model import FailedTest, TestCounts


def read_junit(path: Path, root: Path | None = None) -> TestCounts:
    if not path.is_file():
        return TestCounts()
    tree = ET.parse(path).getroot()
    passed = failed = errors = skipped = 0
    failures: list[FailedTest] = []
    for case in tree.iter("testcase"):
        outcome = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
        if outcome is None:
            passed += 1
            continue
        if outcome.tag == "skipped":
            skipped += 1
            continue
        if outcome.tag == "failure":
            failed += 1
        else:
            errors += 1
        failures.append(_failed(case, outcome, root or Path.cwd()))
    return TestCounts(passed, failed, errors, skipped, tuple(failures))


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
