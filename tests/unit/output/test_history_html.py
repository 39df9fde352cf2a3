"""`history html`'s page: its structure (charts with ids, legends, tables), nothing loaded from
the network, and test ids escaped (a test id is text, never markup)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from ci_toolkit.history import queries
from ci_toolkit.history.model import RunRecord, TestResult
from ci_toolkit.output.history_html import render

ODD = "tests/t.py::test_x[<script>alert(1)</script>]"


class Page(HTMLParser):
    """Every element (tag, attributes, the id of the chart or table it is in) and each table's cells."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None], str | None]] = []
        self.cells: dict[str, list[str]] = {}
        self.texts: dict[str, list[str]] = {}
        self._inside: list[str | None] = []
        self._cell: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        owner = found.get("id") or (self._inside[-1] if self._inside else None)
        self.elements.append((tag, found, owner))
        if tag in ("svg", "table"):
            self._inside.append(found.get("id"))
        if tag == "td":
            self._cell = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("svg", "table"):
            self._inside.pop()
        if tag == "td" and self._cell is not None and self._inside and self._inside[-1]:
            self.cells.setdefault(self._inside[-1], []).append(self._cell)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data
        if self._inside and self._inside[-1]:
            self.texts.setdefault(self._inside[-1], []).append(data)

    def inside(self, owner: str, tag: str) -> list[dict[str, str | None]]:
        return [attrs for t, attrs, o in self.elements if o == owner and t == tag]


def runs(n: int) -> list[RunRecord]:
    return [
        RunRecord(
            run_id=f"2026120{i}T000000.000Z-p", finished_at=1_764_547_200 + i * 3600, status="passed",
            exit_code=0, counts={"passed": 3, "failed": i % 2}, coverage_percent=None if i == 1 else 80.0 + i,
            phases={"up": 1.0 + i, "ready": 0.0, "test": 2.0}, commit="c0ffee1", branch="main",
            tests=(TestResult(ODD, "failed" if i % 2 else "passed", 0.4),
                   TestResult("t.py::test_ok", "passed", 1.5)),
        )
        for i in range(n)
    ]  # fmt: skip


def page_of(records: list[RunRecord], title: str = "ci-toolkit history: shop") -> str:
    return render(queries.trend(records), queries.flaky(records), queries.slowest(records), title=title)


def test_the_page_has_both_charts_with_a_line_per_series_a_legend_and_both_tables() -> None:
    page = Page(page_of(runs(4)))
    phase_lines = page.inside("phase-chart", "polyline")
    assert [line["stroke"] for line in phase_lines] == ["#1f77b4", "#d62728"]  # up, test: ready took no time
    assert {"up", "test"} <= set(page.texts["phase-chart"]) and "ready" not in page.texts["phase-chart"]
    assert all(len((line["points"] or "").split()) == 4 for line in phase_lines)  # one point per run
    quality = page.inside("quality-chart", "polyline")
    # pass rate over 4 runs; coverage broken by run 2's missing value: a dot, then a line
    assert len(quality) == 2 and len(page.inside("quality-chart", "circle")) == 1
    assert {"pass rate", "coverage", "100%"} <= set(page.texts["quality-chart"])
    assert page.cells["flaky"][0] == ODD and page.cells["flaky"][1:4] == ["2", "2", "0"]
    assert page.cells["slowest"][:2] == ["t.py::test_ok", "1.500"]
    assert page.cells["phases"][:3] == ["up", "2.000", "4.000"]


def test_test_ids_and_the_title_are_text_not_markup() -> None:
    raw = page_of(runs(2), title='shop <img src=x onerror="alert(1)">')
    assert "<script" not in raw and "<img" not in raw
    assert "test_x[&lt;script&gt;alert(1)&lt;/script&gt;]" in raw
    page = Page(raw)
    assert ODD in page.cells["flaky"] and ODD in page.cells["slowest"]
    assert [t for t, _, _ in page.elements].count("img") == 0


def test_the_page_is_whole_offline() -> None:
    raw = page_of(runs(3))
    page = Page(raw)
    tags = {t for t, _, _ in page.elements}
    assert not tags & {"script", "link", "img", "iframe", "object"}
    refs = {v for _, attrs, _ in page.elements for k, v in attrs.items() if k in ("src", "href")}
    assert refs == set()
    assert re.findall(r"https?://[^\s\"']+", raw) == ["http://www.w3.org/2000/svg"] * 2  # xmlns only


def test_no_runs_is_a_sentence_and_empty_tables_say_so() -> None:
    raw = page_of([])
    assert "No recorded runs yet." in raw and "<svg" not in raw
    assert "No flaky tests in these runs." in raw
