"""ci_toolkit.redact: a sensitive value is masked in every form it takes in a log or a file."""

from __future__ import annotations

import base64
import html
import json
import secrets as random
from urllib.parse import quote, quote_plus

import pytest
from _pytest._io.saferepr import saferepr

from ci_toolkit.redact import MASK, MIN_LENGTH, Redactor
from ci_toolkit.redact.forms import base64_forms
from ci_toolkit.redact.matcher import AT_CUT, AT_WORD_EDGE


def special() -> str:
    """A password with everything that escaping changes: quotes, a backslash, non-ASCII."""
    return f"pw-{random.token_hex(4)}\"q\\b'ö€&<>%+ /"


def masked(redactor: Redactor, text: str, value: str) -> bool:
    out = redactor(text)
    return value not in out and MASK in out


def test_raw_and_escaped_forms() -> None:
    r, value = Redactor(), special()
    r.add(value)
    for form in (
        value,
        json.dumps(value),
        json.dumps(value, ensure_ascii=False),
        json.dumps(json.dumps(value)),  # a JSON string inside JSON: compose config in commands.json
        repr(value),
        ascii(value),
        html.escape(value),
        f'<failure message="{html.escape(repr(value))}"/>',  # a repr inside junit.xml
    ):
        out = r(f"before {form} after")
        assert out.startswith("before ") and out.endswith(" after") and MASK in out, form
        for escaped in (value, json.dumps(value)[1:-1], repr(value)[1:-1], html.escape(value)):
            assert escaped not in out, form
    assert r(json.dumps({"v": value})) == '{"v": "***"}'


@pytest.mark.parametrize("user", ["", "u", "us", "use", "user", "admin"])
def test_base64_at_every_offset_as_in_a_basic_auth_header(user: str) -> None:
    r, value = Redactor(), f"Pw{random.token_hex(6)}!"
    r.add(value)
    for tail in ("", "x", "xy", "xyz"):
        header = "Basic " + base64.b64encode(f"{user}:{value}{tail}".encode()).decode()
        out = r(header)
        assert MASK in out, header
        offset = (len(user) + 1) % 3
        aligned = base64.b64encode(bytes(offset) + value.encode()).decode()
        assert aligned[3:-3] not in out  # nothing that encodes the value's bytes alone survives
    plain = base64.b64encode(value.encode()).decode()
    assert any(plain.startswith(form) and len(form) >= len(plain) - 4 for form in base64_forms(value))


def test_url_safe_base64_hex_and_url_encodings() -> None:
    r, value = Redactor(), special()
    r.add(value)
    for form in (
        base64.urlsafe_b64encode(value.encode()).decode(),
        value.encode().hex(),
        value.encode().hex().upper(),
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        quote(value, safe="").lower(),
    ):
        assert r(f"?q={form}&n=1").startswith("?q=***"), form


def test_a_multi_line_value_is_masked_line_by_line_and_its_armour_kept() -> None:
    r = Redactor()
    body = [base64.b64encode(random.token_bytes(48)).decode() for _ in range(3)]
    pem = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END PRIVATE KEY-----\n"
    r.add(pem)
    assert r(pem) == MASK
    for line in body:
        assert r(f"log: {line}") == "log: ***"
        assert r(base64.b64encode(f"k={line}".encode()).decode()).count(MASK) == 1
    assert r("-----BEGIN PRIVATE KEY-----") == "-----BEGIN PRIVATE KEY-----"
    assert r(json.dumps(pem)) == '"***"'


def test_values_too_short_are_not_registered_and_inferred_ones_need_more() -> None:
    r = Redactor()
    assert not r.add("abc") and r("abc abc") == "abc abc"
    assert r.add("abcd") and r("x abcd y") == "x *** y"
    assert MIN_LENGTH == 4
    for word in ("test", "postgres", "password", "localhost", "5432", "3600000", "/etc/ssl/certs/ca.pem"):
        assert not r.learn(word)
        assert r(f"service {word}") == f"service {word}"
    assert r.learn("Zq7xK9w")  # a 7-character token under a credential-looking name
    assert r("token=Zq7xK9w") == "token=***"


def test_url_passwords_are_masked_in_any_text_and_learned_from_the_environment() -> None:
    r = Redactor()
    assert r("postgresql://app:hunter2hunter@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert r('["redis://cache:6379","a@b"]') == '["redis://cache:6379","a@b"]'  # no run across strings
    r.add_sensitive_env({"DATABASE_URL": "postgresql://app:s3cr%40t-pw@db/app", "MODE": "test"})
    assert r("the password is s3cr@t-pw, quoted s3cr%40t-pw") == "the password is ***, quoted ***"
    assert r("MODE is test") == "MODE is test"


def test_credential_named_and_required_variables_are_learned() -> None:
    r = Redactor()
    env = {
        "STRIPE_KEY": f"sk_test_{random.token_hex(8)}",
        "API_TOKEN": "Zq7xK9w",
        "SENTRY_DSN": f"https://{random.token_hex(8)}@o1.ingest.sentry.io/42",
        "MY_REQUIRED": f"req-{random.token_hex(4)}",
        "PWD": "/home/runner/work",
        "EDITOR": "vim-editor",
    }
    r.add_sensitive_env(env, names=["MY_REQUIRED"])
    for name in ("STRIPE_KEY", "API_TOKEN", "SENTRY_DSN", "MY_REQUIRED"):
        assert r(f"[{env[name]}]") == "[***]", name
    assert r("cd /home/runner/work; vim-editor") == "cd /home/runner/work; vim-editor"


@pytest.mark.parametrize("length", [AT_WORD_EDGE + 2, 13, 20, 31, 44, 80])
def test_what_pytest_leaves_of_a_truncated_repr_is_masked(length: int) -> None:
    r = Redactor()
    value = random.token_urlsafe(length)[:length]
    r.add(value)
    for obj in (value, value + "-tail", "head-" + value, {"token": value, "n": 1}, [value, value]):
        for size in (30, 40, 60, 240):
            shown = r(saferepr(obj, maxsize=size))
            for start in range(len(value) - AT_CUT + 1):  # not even 4 characters of it
                assert value[start : start + AT_CUT] not in shown, (shown, size)


def test_pieces_at_cuts_and_word_edges_are_masked_but_not_elsewhere() -> None:
    r = Redactor()
    value = "Zq7xK9wLmN3pR5tV8yB2cD4fG6hJ1kM0nP9qS"
    r.add(value)
    assert r("E         - M0nP9qS@db2/app") == "E         - ***@db2/app"  # a diff's context
    assert (
        r("FAILED t.py::x - assert 'Zq7xK9wLmN3p...6hJ1kM0nP...") == "FAILED t.py::x - assert '***...***..."
    )
    assert r("prefix Zq7xK9wL") == "prefix ***"
    assert r("in the middle: xK9wLmN3pR of a word") == "in the middle: xK9wLmN3pR of a word"
    assert r(f"a copy changed at one end: {value[:-1]}!") == "a copy changed at one end: ***!"  # 16+ anywhere
    webhook = Redactor()
    webhook.learn(f"https://hooks.slack.com/services/T0/B0/{random.token_hex(12)}")
    assert webhook("see https://example.com/docs") == "see https://example.com/docs"
