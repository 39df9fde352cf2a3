"""The shards' coverage data combined by coverage.py's own CLI, into one data file, XML and HTML.

Run in the current directory through `proc.run`: coverage reads its config ([tool.coverage],
.coveragerc; `[paths]` maps shards that ran in other directories) and the measured source files
from there, as the shards' pytest did, so `report merge` runs from a checkout of the tested
commit. The percentage is the XML's line rate, the figure a run judges `fail_under` by.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from contextlib import closing
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


def combine(
    data: Sequence[tuple[Path, str | None]], into: Path, fail_under: float | None, here: Path | None = None
) -> Coverage:
    """`coverage combine` of each shard's data (`relocate`d copies: the shards' files stay as
    they are), then `xml` and `html`. `here`: this checkout's counterpart of the shards' root
    (the config's directory; default the current one), where coverage runs and reads its config."""
    here = (here or Path.cwd()).resolve()
    into = into.resolve()
    out, xml, html = into / DATA_FILES[0], into / "coverage.xml", into / "htmlcov"
    cmd = [sys.executable, "-m", "coverage"]
    with tempfile.TemporaryDirectory(prefix="ci-toolkit-coverage-") as tmp:
        copies = [relocate(path, root, here, Path(tmp) / f"{n}.data") for n, (path, root) in enumerate(data)]
        _run(cmd, out, xml, html, copies, here)
    rate = ET.parse(xml).getroot().get("line-rate")
    return Coverage(float(rate or 0) * 100, len(data), out, xml, html / "index.html", fail_under)


def relocate(data: Path, root: str | None, here: Path, copy: Path) -> Path:
    """A copy of `data` whose measured files under the shard's `root` are under `here` instead.
    Shards run in a directory of their own runner (act gives every job another one; self-hosted
    runners differ), and coverage.py finds a file by the absolute path it measured; its `[paths]`
    setting would do this too, but only from the project's own config. The data file is SQLite
    (coverage.py's documented format, table `file`)."""
    shutil.copyfile(data, copy)
    if not root or Path(root) == here:
        return copy
    old, new = root.rstrip("/") + "/", str(here).rstrip("/") + "/"
    with closing(sqlite3.connect(copy)) as db, db:
        db.execute(
            "UPDATE file SET path = ? || substr(path, ?) WHERE substr(path, 1, ?) = ?",
            (new, len(old) + 1, len(old), old),
        )
    return copy


def _run(cmd: list[str], out: Path, xml: Path, html: Path, copies: Sequence[Path], here: Path) -> None:
    try:
        proc.run([*cmd, "combine", f"--data-file={out}", *map(str, copies)], timeout=TIMEOUT, cwd=here)
        proc.run([*cmd, "xml", f"--data-file={out}", "-o", str(xml)], timeout=TIMEOUT, cwd=here)
        proc.run([*cmd, "html", f"--data-file={out}", "-d", str(html)], timeout=TIMEOUT, cwd=here)
    except CommandError as exc:
        raise UsageError(
            f"coverage could not combine the shards' data: {exc.message}",
            hint="run `report merge` from a checkout of the commit the shards tested: coverage reads "
            "its config and the measured source files from the current directory",
        ) from None
