"""Finding registered values in text fast: whole values, and the pieces truncation leaves of them.

Whole values: one regular expression shaped as a trie (values sharing a prefix share a
branch), so the cost per character of text stays flat however many forms are registered —
a plain alternation of hundreds of forms tries each of them at every character.

Pieces: pytest shortens a long repr to its ends (`'sk_live_abcd...wxyz1234'`: 12-13 characters
of each end in an assertion, fewer of a value inside a dict's repr), cuts the short summary
line at the terminal's width with `...` (leaving a middle piece between two cuts), and trims
the common part of two strings in a diff to 10 characters of context (`Skipping 47 identical
leading characters`: the diff line starts with the end of a value). So pieces of registered
values are masked where truncation leaves them:
- next to `...` or `…`: any run of a value of at least AT_CUT characters ending right before
  it or starting right after it (the shortest a value itself may be);
- at the start of a whitespace-separated word, a value's last AT_WORD_EDGE or more characters;
  at its end, its first ones;
- anywhere: a run of at least LONG_RUN characters (a test comparing a secret with a copy of it
  changed at one end shows the copy whole).
Short pieces only where truncation cuts keeps this precise — a webhook URL's `https://`
elsewhere in running text stays, which masking every short run anywhere would turn into `***`
— and cheap: a dictionary lookup per cut, per word and per LONG_RUN - GRAM + 1 characters.
Masking every 12-character prefix and suffix as values of their own would miss the other
lengths pytest keeps. AT_WORD_EDGE is 6, not 4: a word ending in the first four characters of
some value is too likely by chance (`test`), and the diff's 10 characters of context leave 7 of
a password followed by `@host` in a DSN.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

GRAM = 4  # the slices values are indexed by: the shortest piece looked for
AT_CUT = 4  # the shortest piece masked next to `...`
AT_WORD_EDGE = 6  # ... at the start or end of a word
LONG_RUN = 16  # ... anywhere
_STRIDE = LONG_RUN - GRAM + 1  # every LONG_RUN-long run holds a GRAM-long slice starting at a multiple
_CUT = re.compile(r"\.\.\.|…")
_WORD = re.compile(rf"\S{{{AT_WORD_EDGE},}}")  # shorter words hold no piece that long


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
    """The GRAM-long slices of each value, to find the pieces of it truncation left."""

    def __init__(self, values: Iterable[str]) -> None:
        self._grams: dict[str, list[tuple[str, int]]] = {}
        for value in values:
            for start in range(len(value) - GRAM + 1):
                self._grams.setdefault(value[start : start + GRAM], []).append((value, start))

    def __bool__(self) -> bool:
        return bool(self._grams)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of each piece of a value that truncation left in `text`."""
        found: list[tuple[int, int]] = []
        for cut in _CUT.finditer(text):
            found += self._runs(text, cut.start() - GRAM, AT_CUT, end=cut.start())
            found += self._runs(text, cut.end(), AT_CUT, start=cut.end())
        for word in _WORD.finditer(text):
            found += self._runs(text, word.start(), AT_WORD_EDGE, start=word.start(), to_value_end=True)
            found += self._runs(text, word.end() - GRAM, AT_WORD_EDGE, end=word.end(), from_value_start=True)
        for at in range(0, len(text) - GRAM + 1, _STRIDE):
            found += self._runs(text, at, LONG_RUN)
        return found

    def _runs(
        self,
        text: str,
        at: int,
        shortest: int,
        *,
        start: int | None = None,
        end: int | None = None,
        to_value_end: bool = False,
        from_value_start: bool = False,
    ) -> list[tuple[int, int]]:
        """Runs of a value through the slice of `text` at `at`, at least `shortest` long: that
        start at `start` / end at `end` if given, and reach the value's end / start if asked."""
        if at < 0:
            return []
        found = []
        for value, offset in self._grams.get(text[at : at + GRAM], ()):
            first, left = offset, at  # extend to the left while text and value agree
            while first > 0 and left > 0 and left != start and text[left - 1] == value[first - 1]:
                first, left = first - 1, left - 1
            last, right = offset + GRAM, at + GRAM  # ... and to the right
            while last < len(value) and right < len(text) and right != end and text[right] == value[last]:
                last, right = last + 1, right + 1
            if (
                right - left < shortest
                or (start is not None and left != start)
                or (end is not None and right != end)
            ):
                continue
            if (to_value_end and last != len(value)) or (from_value_start and first != 0):
                continue
            found.append((left, right))
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
