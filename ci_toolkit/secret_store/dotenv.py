"""The `--secrets-file` format: `.env`-style `KEY=VALUE` lines."""

from __future__ import annotations

import re

from ci_toolkit.errors import ConfigError

_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def parse_dotenv(text: str, origin: str = ".env") -> dict[str, tuple[str, int]]:
    """`KEY=VALUE` lines (optional `export `), `#` comments, '...' literal and "..." escaped
    values (both may span lines). Returns name -> (value, line). Errors never quote a line."""
    values: dict[str, tuple[str, int]] = {}
    problems: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno, raw = i + 1, lines[i]
        i += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(raw)
        if match is None:
            problems.append(f"{origin}:{lineno}: expected KEY=VALUE")
            continue
        key, rest = match.group(1), match.group(2)
        if rest[:1] in ("'", '"'):
            quote, body = rest[0], rest[1:]
            end = _closing_quote(body, quote)
            while end is None and i < len(lines):
                body += "\n" + lines[i]
                i += 1
                end = _closing_quote(body, quote)
            if end is None:
                problems.append(f"{origin}:{lineno}: {key}: unterminated {quote} quote")
                continue
            trailing = body[end + 1 :].strip()
            if trailing and not trailing.startswith("#"):
                problems.append(f"{origin}:{lineno}: {key}: unexpected text after the closing quote")
                continue
            value = body[:end] if quote == "'" else _unescape(body[:end])
        else:
            value = re.split(r"\s+#", rest, maxsplit=1)[0].strip()
        values[key] = (value, lineno)
    if problems:
        raise ConfigError(
            "invalid secrets file:\n" + "\n".join(f"  - {p}" for p in problems),
            hint="lines are KEY=VALUE or export KEY=VALUE, # starts a comment; quote values with spaces",
        )
    return values


def _closing_quote(body: str, quote: str) -> int | None:
    j = 0
    while j < len(body):
        if quote == '"' and body[j] == "\\":
            j += 2
            continue
        if body[j] == quote:
            return j
        j += 1
    return None


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text, flags=re.S)
