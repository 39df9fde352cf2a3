"""A run's id in a history store: made when the run ends and written into its run.json.

    20261202T071503.123Z-<project>-<8 hex>

The end time (UTC, to the millisecond) comes first, so ids sort by time (both stores list runs in
id order); the project and a random part make it unique. `integration-run` writes it into run.json
(`"history": {"run_id": …}`) before the run is recorded, so every copy of the artifacts dir (cp -r,
an unzipped download) names the same run: recording one again replaces that run, never adds one.

A run.json without it (written before ids were, or not by a run) gets an id from its content: the
time pytest's JUnit says the tests ended (else the epoch: such a run sorts as the oldest), then a
hash of run.json's bytes. Never the file's mtime, which every copy changes.
"""

from __future__ import annotations

import calendar
import contextlib
import hashlib
import re
import secrets
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from ci_toolkit.redact import REDACTOR

RESULT_FILE = "run.json"
RUN_ID_TIME = "%Y%m%dT%H%M%S"
HASH_CHARS = 12  # of sha256's hex: one run.json in 2**48, per project and end time


def make(project: str, at: float) -> str:
    """A new run's id: `at` (epoch seconds, its end), the project, a random part."""
    return f"{_stamp(at)}-{_safe_id(project)}-{secrets.token_hex(4)}"


def of_run(run_dir: Path, result: Mapping[str, Any], project: str) -> tuple[str, float]:
    """The id written into run.json (and the time it carries), else one from run.json's content;
    then the run's end in epoch seconds (for an old run whose JUnit says nothing: run.json's mtime,
    shown only, never part of the id)."""
    history = result.get("history")
    kept = history.get("run_id") if isinstance(history, Mapping) else None
    if isinstance(kept, str) and (at := parse_time(kept)) is not None:
        return kept, at
    path = run_dir / RESULT_FILE
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:HASH_CHARS]
    ended = _junit_end(run_dir / "junit.xml")
    run_id = f"{_stamp(ended or 0.0)}-{_safe_id(project)}-{digest}"
    return run_id, ended if ended is not None else path.stat().st_mtime


def parse_time(run_id: str) -> float | None:
    found = re.match(r"(\d{8}T\d{6})\.(\d{3})Z-", run_id)
    with contextlib.suppress(ValueError):  # 13th months and the like: not an id we made
        return calendar.timegm(time.strptime(found[1], RUN_ID_TIME)) + int(found[2]) / 1000 if found else None
    return None


def _stamp(at: float) -> str:
    millis = round(at * 1000)
    return time.strftime(RUN_ID_TIME, time.gmtime(millis // 1000)) + f".{millis % 1000:03d}Z"


def _safe_id(project: str) -> str:
    """The run id is a directory and an S3 key: only characters safe in both."""
    cleaned = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in REDACTOR(project))
    return cleaned.strip(".") or "run"


def _junit_end(path: Path) -> float | None:
    """When pytest's suite ended: its testsuite's `timestamp` (the start; ISO, with the UTC offset
    since pytest 7, local time before) plus its `time`."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None or not suite.get("timestamp"):
        return None
    try:
        started = datetime.fromisoformat(str(suite.get("timestamp"))).timestamp()
        return started + float(suite.get("time") or 0)
    except (ValueError, OverflowError):
        return None
