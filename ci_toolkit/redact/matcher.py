"""Finding registered values in text fast: whole values, and the pieces truncation leaves of them.

Whole values: one regular expression shaped as a trie (values sharing a prefix share a
branch), so the cost per character of text stays flat however many forms are registered —
a plain alternation of hundreds of forms tries each of them at every character.

Pieces: pytest shortens a long repr to its ends (`'sk_live_abcd...wxyz1234'`, 12-13 characters
kept on each side in an assertion, more in the short summary), trims the common part of two
strings in a diff to 10 characters of context (`Skipping 52 identical leading characters`),
and cuts lines to the terminal's width with `...`. What survives is a prefix of the value
ending at the cut, or a suffix starting at it. So at every cut — either side of `...` or `…`,
and the start and end of every whitespace-separated word — a prefix or suffix of a registered
value of at least FRAGMENT characters is masked as well. Looking only at cuts keeps this
precise: a value's first characters elsewhere in running text (`https://` of a webhook URL)
stay; and it stays cheap (one dictionary lookup per word). Masking every 12-character prefix
and suffix as a value of its own would miss the other lengths pytest keeps (a dict's repr is
cut anywhere in it), and masking any run of a value anywhere would turn `https://` into `***`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FRAGMENT = 8  # the shortest piece of a value masked at a cut
_CUT = re.compile(r"\.\.\.|…")
_WORD = re.compile(r"\S+")


Trie = dict[str, "Trie"]


def trie_pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern matching each value, longest first at any position."""
    trie: Trie = {}
    for value in values:
        node = trie
        for char in value:
            node = node.setdefault(char, {})
        node[""] = {}
    return re.compile(_branch(trie)) if trie else None


def _branch(node: Trie) -> str:
    """The pattern below `node`. A run of single-child nodes becomes one literal, so nesting
    (and this function's recursion) grows with the branch points, not with a value's length."""
    run = []
    while "" not in node and len(node) == 1:
        char = next(iter(node))
        run.append(char)
        node = node[char]
    arms = [re.escape(char) + _branch(child) for char, child in sorted(node.items()) if char]
    literal = re.escape("".join(run))
    if not arms:
        return literal
    body = arms[0] if len(arms) == 1 else "(?:" + "|".join(arms) + ")"
    return literal + (f"(?:{body})?" if "" in node else body)


class Fragments:
    """The FRAGMENT-long slices of each value, to find its prefixes and suffixes at a cut."""

    def __init__(self, values: Iterable[str]) -> None:
        self._grams: dict[str, list[tuple[str, int]]] = {}
        for value in values:
            for start in range(len(value) - FRAGMENT + 1):
                self._grams.setdefault(value[start : start + FRAGMENT], []).append((value, start))

    def __bool__(self) -> bool:
        return bool(self._grams)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where a piece of a value ends or starts at a cut, as (start, end) of the piece."""
        found: list[tuple[int, int]] = []
        for cut in _CUT.finditer(text):
            found += self._prefix_ending(text, cut.start()) + self._suffix_starting(text, cut.end())
        for word in _WORD.finditer(text):
            found += self._suffix_starting(text, word.start()) + self._prefix_ending(text, word.end())
        return found

    def _prefix_ending(self, text: str, end: int) -> list[tuple[int, int]]:
        """A value's first characters, ending at `end`: what is left before a cut."""
        found = []
        for value, start in self._grams.get(text[max(0, end - FRAGMENT) : end], ()):
            head = value[: start + FRAGMENT]
            if end >= len(head) and text.startswith(head, end - len(head)):
                found.append((end - len(head), end))
        return found

    def _suffix_starting(self, text: str, begin: int) -> list[tuple[int, int]]:
        """A value's last characters, starting at `begin`: what is left after a cut."""
        found = []
        for value, start in self._grams.get(text[begin : begin + FRAGMENT], ()):
            tail = value[start:]
            if text.startswith(tail, begin):
                found.append((begin, begin + len(tail)))
        return found


def mask_spans(text: str, spans: list[tuple[int, int]], mask: str) -> str:
    """`text` with each (merged) span replaced by `mask`."""
    out: list[str] = []
    position = 0
    for start, end in sorted(spans):
        if end <= position:
            continue
        start = max(start, position)
        if start > position or not out:
            out.append(text[position:start])
            out.append(mask)
        position = end
    out.append(text[position:])
    return "".join(out)
