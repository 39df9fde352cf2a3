"""The shards' coverage data combined by coverage.py's own CLI, into one data file, XML and HTML.

Run in the current directory through `proc.run`: coverage reads its config ([tool.coverage],
.coveragerc; `[paths]` maps shards that ran in other directories) and the measured source files
from there, as the shards' pytest did, so `report merge` runs from a checkout of the tested
commit. The percentage is the XML's line rate, the figure a run judges `fail_under` by.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_toolkit import proc
from ci_toolkit.errors import CommandError, UsageError

DATA_FILES = ("coverage.data", ".coverage")  # COVERAGE_FILE in a run dir; `.coverage` before it was renamed
TIMEOUT = 600.0  # a very large suite's HTML report takes a while; a hang still ends


@dataclass(frozen=True)
class Coverage:
    percent: float
    shards: int  # how many shards' data it combines
    data: Path
    xml: Path
    html: Path  # its index.html
    fail_under: float | None

    @property
    def below(self) -> bool:
        return self.fail_under is not None and self.percent < self.fail_under


def data_file(run_dir: Path) -> Path | None:
    return next((p for name in DATA_FILES if (p := run_dir / name).is_file()), None)


def combine(data: Sequence[Path], into: Path, fail_under: float | None) -> Coverage:
    """`coverage combine --keep` (the shards' files stay as they are), then `xml` and `html`."""
    out, xml, html = into / DATA_FILES[0], into / "coverage.xml", into / "htmlcov"
    cmd = [sys.executable, "-m", "coverage"]
    try:
        proc.run([*cmd, "combine", "--keep", f"--data-file={out}", *map(str, data)], timeout=TIMEOUT)
        proc.run([*cmd, "xml", f"--data-file={out}", "-o", str(xml)], timeout=TIMEOUT)
        proc.run([*cmd, "html", f"--data-file={out}", "-d", str(html)], timeout=TIMEOUT)
    except CommandError as exc:
        raise UsageError(
            f"coverage could not combine the shards' data: {exc.message}",
            hint="run `report merge` from a checkout of the commit the shards tested: coverage reads "
            "its config and the measured source files from the current directory",
        ) from None
    rate = ET.parse(xml).getroot().get("line-rate")
    return Coverage(float(rate or 0) * 100, len(data), out, xml, html / "index.html", fail_under)
