"""`history html`'s page opened in a real headless Chromium (Debian's): no console errors, and
the charts drawn (pixels of the first series' colour in the screenshot, saved as an artifact).

Console messages come from Chromium's own log (`--enable-logging=stderr`: `CONSOLE(...)` lines);
the check is shown to catch a page whose script throws, so it is not a check that cannot fail."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from ci_toolkit.history.model import RunRecord, TestResult
from ci_toolkit.output.svg_chart import PALETTE
from tests.conftest import run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="chromium is not installed (.ci/run installs it)"
)
FIRST_SERIES = tuple(int(PALETTE[0][k : k + 2], 16) for k in (1, 3, 5))  # each chart's first line


def records(n: int) -> list[RunRecord]:
    return [
        RunRecord(
            run_id=f"20261201T{i:06d}.000Z-p{i}",
            finished_at=1_764_547_200 + i * 3600,
            status="passed" if i % 3 else "tests_failed",
            exit_code=0 if i % 3 else 1,
            counts={"passed": 9 if i % 3 else 8, "failed": 0 if i % 3 else 1},
            coverage_percent=85.0 + i % 4,
            phases={"up": 1.0 + i % 5 / 4, "ready": 1.5, "test": 3.0 + i / 10},
            tests=(
                TestResult("t.py::test_ok", "passed", 0.2),
                TestResult("t.py::test_odd[<script>]", "failed" if i % 3 == 0 else "passed", 0.1),
            ),
            commit=f"{i:02d}c0ffee",
            branch="main",
        )
        for i in range(12)
    ]


def screenshot(page: Path, png: Path) -> str:
    assert CHROMIUM is not None, "chromium is not installed: .ci/run installs Debian's chromium"
    proc = subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         "--hide-scrollbars", f"--screenshot={png}", "--window-size=1200,1600", page.as_uri()],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert png.exists(), proc.stderr
    return proc.stderr


def console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line or "Uncaught" in line]


def pixels(png: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the rows (RGB(A) bytes) of an 8-bit PNG, decoded with zlib alone."""
    data = png.read_bytes()
    pos, idat, width, height, channels = 8, b"", 0, 0, 3
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            channels = 4 if colour == 6 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for r in range(height):
        f, line = raw[r * (stride + 1)], bytearray(raw[r * (stride + 1) + 1 : (r + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, channels, rows


def coloured(png: Path, rgb: tuple[int, ...]) -> list[tuple[int, int]]:
    """(x, y) of every pixel near `rgb` (anti-aliased edges are lighter: a tolerance)."""
    width, channels, rows = pixels(png)
    return [
        (x, y)
        for y, row in enumerate(rows)
        for x in range(width)
        if all(abs(row[x * channels + k] - rgb[k]) <= 24 for k in range(3))
    ]


def artifacts(tmp_path: Path) -> Path:
    where = Path(os.environ.get("CI_TOOLKIT_TEST_ARTIFACTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


def test_the_history_page_draws_its_charts_with_no_console_errors(tmp_path: Path) -> None:
    from ci_toolkit.history.store import open_store

    store = open_store(str(tmp_path / "store"), tmp_path)
    for record in records(12):
        store.put(record, {})
    page = tmp_path / "history.html"
    made = run_cli(["history", "html", str(page), "--store", str(tmp_path / "store")], tmp_path)
    assert made.returncode == 0, made.output
    html = page.read_text()
    assert 'id="phase-chart"' in html and 'id="quality-chart"' in html and 'id="flaky"' in html
    assert "t.py::test_odd[&lt;script&gt;]" in html and "<script>" not in html
    png = artifacts(tmp_path) / "history-page.png"
    log = screenshot(page, png)
    print(f"screenshot: {png}")
    assert console_errors(log) == []
    drawn = coloured(png, FIRST_SERIES)
    # The phase chart's first line crosses its plot (670 of the SVG's 900 px) near the top of the
    # page: a wide run of pixels, which neither the 12-px legend box nor a dot could make.
    xs, ys = [x for x, _ in drawn], [y for _, y in drawn]
    assert len(drawn) > 300, len(drawn)
    assert max(xs) - min(xs) > 600 and min(ys) < 600, (min(xs), max(xs), min(ys))


def test_the_console_check_catches_a_page_whose_script_throws(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>undefinedFunction()</script></body></html>")
    log = screenshot(page, tmp_path / "broken.png")
    assert any("undefinedFunction" in line for line in console_errors(log)), log
    assert coloured(tmp_path / "broken.png", FIRST_SERIES) == []
