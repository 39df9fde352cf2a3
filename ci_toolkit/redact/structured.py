"""Redaction by key: environments and JSON-like data (`docker inspect`, `compose config`).

In structured data the key says what a value is, so a credential-looking key's value is
masked whatever its length (`API_TOKEN=abc1234`), where masking by value would have to skip
short values to leave ordinary words alone. Strings are redacted before they are serialised:
escaping (a `"` or `\\` in a password) cannot change their bytes first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ci_toolkit.redact.names import looks_secret

MASK = "***"
# `NAME=value` inside a list (Config.Env, compose's list form, `--password=x` in a command).
_ASSIGNMENT = re.compile(r"^(-{0,2}[A-Za-z_][A-Za-z0-9_.\-]*)=(.*)$", re.S)
# The password of a URL with userinfo: `scheme://user:PASSWORD@host`. Quotes and whitespace end
# it, so it never runs across two strings of a JSON or repr line.
URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s\"'<>]*:)(?P<pw>[^@/\s\"'<>]+)(?=@)")


def url_passwords(text: str) -> Iterator[str]:
    return (match["pw"] for match in URL_PASSWORD.finditer(text))


def mask_url_passwords(text: str) -> str:
    return URL_PASSWORD.sub(lambda m: m["head"] + MASK, text) if "://" in text else text


def redact_data(data: Any, redact_text: Callable[[str], str]) -> Any:
    """A copy of `data` with credential-keyed strings masked and every other string redacted."""
    if isinstance(data, Mapping):
        return {key: _redact_value(str(key), value, redact_text) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_data(item, redact_text) for item in data]
    if isinstance(data, str):
        return _redact_string(data, redact_text)
    return data


def _redact_value(key: str, value: Any, redact_text: Callable[[str], str]) -> Any:
    if looks_secret(key):
        return _mask_all(value)
    return redact_data(value, redact_text)


def _mask_all(value: Any) -> Any:
    """Every string under a credential-looking key (`secrets: {db: {file: ...}}` included)."""
    if isinstance(value, Mapping):
        return {key: _mask_all(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_all(item) for item in value]
    return MASK if isinstance(value, str) and value else value


def _redact_string(text: str, redact_text: Callable[[str], str]) -> str:
    match = _ASSIGNMENT.match(text)
    if match and looks_secret(match[1].lstrip("-")):
        return f"{match[1]}={MASK}" if match[2] else text
    return redact_text(text)


def leaves(data: Any, key: str = "", secret: bool = False) -> Iterator[tuple[str, str, bool]]:
    """(key, string, whether it is a credential) for each string in `data`, at any depth."""
    if isinstance(data, Mapping):
        for name, value in data.items():
            yield from leaves(value, str(name), secret or looks_secret(str(name)))
    elif isinstance(data, (list, tuple)):
        for item in data:
            yield from leaves(item, key, secret)
    elif isinstance(data, str):
        match = _ASSIGNMENT.match(data)
        if match and looks_secret(match[1].lstrip("-")):
            yield match[1], match[2], True
        else:
            yield key, data, secret


def env_snapshot(env: Mapping[str, str], redact_text: Callable[[str], str]) -> dict[str, str]:
    """A copy of `env` safe to write to disk: credential-looking values masked by name."""
    return {
        name: MASK if looks_secret(name) and value else redact_text(value)
        for name, value in sorted(env.items())
    }
