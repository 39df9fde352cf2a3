"""The `--secrets-file` parser: `.env` conventions, and errors that never quote a value."""

from __future__ import annotations

import pytest

from ci_toolkit.errors import ConfigError
from ci_toolkit.secret_store import parse_dotenv


def values(text: str) -> dict[str, str]:
    return {k: v for k, (v, _) in parse_dotenv(text).items()}


def test_plain_export_comments_and_blank_lines() -> None:
    text = "# a comment\n\nAPI_KEY=abc123\nexport TOKEN = tok-456 \nURL=http://x/#frag # trailing comment\n"
    assert values(text) == {"API_KEY": "abc123", "TOKEN": "tok-456", "URL": "http://x/#frag"}
    assert parse_dotenv(text)["TOKEN"] == ("tok-456", 4)


def test_quotes_single_literal_double_escaped() -> None:
    text = (
        "SINGLE='raw \\n $HOME # not a comment'\n"
        + 'DOUBLE="line1\\nline2 \\"quoted\\" \\\\ end" # comment\n'
        + "EMPTY=\n"
        + "SPACES='  padded  '\n"
    )
    assert values(text) == {
        "SINGLE": "raw \\n $HOME # not a comment",
        "DOUBLE": 'line1\nline2 "quoted" \\ end',
        "EMPTY": "",
        "SPACES": "  padded  ",
    }


def test_quoted_values_may_span_lines() -> None:
    text = 'KEY="-----BEGIN KEY-----\nabc\n-----END KEY-----"\nNEXT=1\n'
    parsed = parse_dotenv(text)
    assert parsed["KEY"] == ("-----BEGIN KEY-----\nabc\n-----END KEY-----", 1)
    assert parsed["NEXT"] == ("1", 4)


def test_last_definition_wins() -> None:
    assert values("A=1\nA=2\n") == {"A": "2"}


def test_errors_name_file_and_line_but_never_the_content() -> None:
    text = "GOOD=1\nthis line holds hunter2-secret\nBAD='unterminated hunter2-secret\n"
    with pytest.raises(ConfigError) as info:
        parse_dotenv(text, "ci.env")
    message = str(info.value)
    assert "ci.env:2: expected KEY=VALUE" in message
    assert "ci.env:3: BAD: unterminated ' quote" in message
    assert "hunter2" not in message


def test_text_after_closing_quote_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"x.env:1: A: unexpected text after the closing quote"):
        parse_dotenv('A="v" junk\n', "x.env")
