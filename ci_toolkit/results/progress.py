"""How far a pytest run got, for when it never wrote its JUnit XML (killed by the OOM killer,
a watchdog): the plugin's per-test record, or else pytest's own progress characters."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from ci_toolkit.results.model import TestCounts

# `-q`/default progress: "..F.s" optionally followed by "[ 42%]"; `-v`: "path::test PASSED".
_PROGRESS = re.compile(r"^(?:\S+\.py )?(?P<chars>[.FEsxX]+)\s*(?:\[\s*\d+%\])?$")
_VERBOSE = re.compile(r"::\S+ (?P<word>PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b")
_CHARS = {".": "passed", "F": "failed", "E": "error", "s": "skipped", "x": "skipped", "X": "passed"}
_WORDS = {"PASSED": "passed", "FAILED": "failed", "ERROR": "error", "SKIPPED": "skipped"}
_WORDS |= {"XFAIL": "skipped", "XPASS": "passed"}


def read_record(path: Path) -> TestCounts | None:
    """The plugin's record (`outcome<TAB>nodeid` per line); None when there is none."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    outcomes = Counter(line.split("\t", 1)[0] for line in lines if "\t" in line)
    return _counts(outcomes)


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
        return _counts(self.outcomes)


def _counts(outcomes: Counter[str]) -> TestCounts:
    return TestCounts(outcomes["passed"], outcomes["failed"], outcomes["error"], outcomes["skipped"])
