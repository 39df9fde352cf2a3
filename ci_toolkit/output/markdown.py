"""Markdown for the reports we write: the GitHub job summary, `report merge` and the soak report.

One place for table cells, code spans and fenced blocks, so that a test id, a message or a
file name that holds Markdown syntax (`|`, backticks, a newline) renders the same way in all
of them. No table helper: each report's header rows are clearer as the literal text they are.
"""

from __future__ import annotations

import re

_BACKTICKS = re.compile(r"`+")


def cell(text: str, *, escape_html: bool = True) -> str:
    """`text` as one table cell: `|` would end the cell and a newline the row.

    `escape_html=False` leaves `<`, `>` and `&` as they are: `report merge` and the soak report
    have always printed them verbatim (in a file read as text as much as rendered)."""
    if escape_html:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\n", " ")


def code(text: str) -> str:
    """`text` as an inline code span: fenced by one backtick more than its longest run of them,
    padded when it starts or ends with one (else the fence would swallow it)."""
    ticks = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text.replace(chr(10), ' ')}{pad}{ticks}"


def fenced(text: str, indent: str = "", lang: str = "") -> str:
    """`text` as a fenced code block (indented, e.g. under a list item); the fence is longer than
    any run of backticks inside, so the text cannot close it."""
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    body = "\n".join(indent + line for line in text.splitlines())
    return f"{indent}{fence}{lang}\n{body}\n{indent}{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)
