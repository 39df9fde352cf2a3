"""Formatting for RESULTS.md: Markdown tables and how a figure is shown (seconds, ratios)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Row = Sequence[str]


def table(header: Row, rows: Sequence[Row]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def triple(figures: Mapping[str, float] | None, digits: int = 2) -> list[str]:
    if not figures:
        return ["-", "-", "-"]
    return [f"{figures[k]:.{digits}f}" for k in ("min", "median", "max")]


def median_seconds(v: Mapping[str, Any] | None) -> float | None:
    return v["seconds"]["median"] if v and v.get("seconds") else None


def median(figures: Mapping[str, float] | None) -> float | None:
    return figures["median"] if figures else None


def s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def s2(figures: Mapping[str, float] | None) -> str:
    return s(median(figures))


def x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"
