"""The forms a sensitive value takes in what ci-toolkit prints or writes, each masked like the value.

A secret rarely reaches a log byte for byte: pytest's junit.xml escapes it for XML, reprs and
JSON escape quotes, backslashes and non-ASCII, a test prints it base64-encoded in an
`Authorization: Basic` header, URL-encoded in a query string or hex-encoded. Each of those
byte sequences is registered too.
"""

from __future__ import annotations

import base64
import html
import json
import re
import shlex
from collections.abc import Callable
from urllib.parse import quote, quote_plus

# PEM armour (`-----BEGIN PRIVATE KEY-----`) is the same in every key: not a secret, and masking
# it would hide what kind of file a log is talking about. The lines between are the key.
_PEM_ARMOUR = re.compile(r"^-----(BEGIN|END) [A-Z0-9 ]+-----$")


def _xml_attribute(text: str) -> str:
    """How ElementTree (pytest's junit.xml) escapes an attribute: no `&#x27;` for `'`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# One level of quoting each; applied twice (a JSON string inside JSON in commands.json, a
# repr inside XML in junit.xml, an ascii() repr in a JSON result).
_ESCAPES: tuple[Callable[[str], str], ...] = (
    lambda v: json.dumps(v)[1:-1],
    lambda v: json.dumps(v, ensure_ascii=False)[1:-1],
    lambda v: repr(v)[1:-1],
    lambda v: ascii(v)[1:-1],
    lambda v: html.escape(v, quote=False),
    lambda v: html.escape(v, quote=True),
    _xml_attribute,
    shlex.quote,
)


def pieces(value: str) -> list[str]:
    """The value and, for a multi-line one (a PEM key), each of its lines: a log shows one line
    at a time, and the Actions runner masks line by line."""
    lines = [line.strip() for line in value.splitlines()]
    kept = [line for line in lines if line and not _PEM_ARMOUR.match(line)]
    return [value, *kept] if len(lines) > 1 else [value]


def escaped(value: str) -> set[str]:
    once = {value, *(escape(value) for escape in _ESCAPES)}
    return once | {escape(form) for form in once for escape in _ESCAPES}


def base64_forms(value: str) -> set[str]:
    """The base64 a value turns into inside a longer encoded string, at each of the three byte
    offsets it can start at (what follows `user:` in `Authorization: Basic ...` depends on the
    length of `user:`), trimmed to the characters that depend on the value's bytes alone —
    as the Actions runner masks them. Standard and URL-safe alphabets."""
    data = value.encode()
    found: set[str] = set()
    for offset in (0, 1, 2):
        encoded = base64.b64encode(bytes(offset) + data).decode()
        first = -(-offset * 8 // 6)  # the first character with no bit of the padding bytes
        last = (offset + len(data)) * 8 // 6  # past the last one with no bit of what follows
        stable = encoded[first:last]
        found |= {stable, stable.translate(_URL_SAFE)}
    return found


_URL_SAFE = str.maketrans("+/", "-_")
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def encoded(value: str) -> set[str]:
    """base64 (three offsets), hex and URL-encoded (`quote`, `quote_plus`, lower-case escapes)."""
    url = {quote(value, safe=""), quote(value), quote_plus(value)}
    url |= {_PERCENT.sub(lambda m: m.group().lower(), form) for form in url}
    hexed = value.encode().hex()
    return base64_forms(value) | url | {hexed, hexed.upper()}


def forms(value: str) -> set[str]:
    """Every form of `value` (and of each of its lines) to mask. A multi-line value's own
    encodings are left out: base64, hex or URL encoding of the whole value contains each
    line's encoding at one of the three offsets, and those are registered."""
    found = escaped(value)
    for piece in line_pieces(value):
        found |= escaped(piece) | encoded(piece)
    return found


def line_pieces(value: str) -> list[str]:
    """The single-line pieces of `value`: itself, or each of its lines (PEM armour left out)."""
    return [piece for piece in pieces(value) if "\n" not in piece and "\r" not in piece]


def fragment_forms(value: str) -> set[str]:
    """The forms whose prefixes and suffixes truncation may leave: those of single lines (the
    pieces of a multi-line value that pytest shortens are pieces of its lines)."""
    found: set[str] = set()
    for piece in line_pieces(value):
        found |= escaped(piece) | encoded(piece)
    return found
