"""The plugin's per-test record (`outcome<TAB>nodeid` per line, one line per report pytest counts):
the run's counts in pytest's own categories, and how far a run got when pytest died before it
wrote JUnit XML (killed by the OOM killer, a watchdog) — or else pytest's progress characters."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ci_toolkit.results.model import TestCounts

RECORD_FILE = "progress.tsv"  # beside junit.xml in a run's dir (pipeline.pytest_run.PROGRESS_FILE)

# `-q`/default progress: "..F.s" optionally followed by "[ 42%]"; `-v`: "path::test PASSED".
_PROGRESS = re.compile(r"^(?:\S+\.py )?(?P<chars>[.FEsxXR]+)\s*(?:\[\s*\d+%\])?$")
_VERBOSE = re.compile(r"::\S+ (?P<word>PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS|RERUN)\b")
_CHARS = {".": "passed", "F": "failed", "E": "error", "s": "skipped", "x": "xfailed", "X": "xpassed"}
_CHARS |= {"R": "rerun"}  # pytest-rerunfailures' letter
_WORDS = {"PASSED": "passed", "FAILED": "failed", "ERROR": "error", "SKIPPED": "skipped"}
_WORDS |= {"XFAIL": "xfailed", "XPASS": "xpassed", "RERUN": "rerun"}


def read_record(path: Path) -> TestCounts | None:
    """The plugin's record; None when there is none (the plugin was not loaded)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    pairs = [line.split("\t", 1) for line in lines if "\t" in line]
    return TestCounts.tally((outcome, test) for outcome, test in pairs)


class OutputCounter:
    """Counts finished tests from pytest's streamed output, line by line."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()

    def feed(self, line: str) -> None:
        text = line.strip()
        if (word := _VERBOSE.search(text)) is not None:
            self.outcomes[_WORDS[word.group("word")]] += 1
        elif (chars := _PROGRESS.match(text)) is not None:
            self.outcomes.update(_CHARS[c] for c in chars.group("chars"))

    def counts(self) -> TestCounts:
        o = self.outcomes
        return TestCounts(
            o["passed"], o["failed"], o["error"], o["skipped"],
            xfailed=o["xfailed"], xpassed=o["xpassed"], rerun=o["rerun"],
        )  # fmt: skip
