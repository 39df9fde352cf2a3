"""The one redaction policy: every byte ci-toolkit prints or writes passes through `REDACTOR`.

Sensitive are
- every `[secrets]` value (`secret_store.protect`, at least MIN_LENGTH long: shorter ones are
  refused unless the config says `allow_short`);
- inferred values (`learn`): those of required and credential-looking variables
  (`names.looks_secret`: PGPASS, STRIPE_KEY, SENTRY_DSN, SLACK_WEBHOOK_URL, ...), the password of
  every URL with userinfo, and the same in structured data (`docker inspect`'s Config.Env,
  `compose config`) — at least MIN_INFERRED_LENGTH long and not a well-known placeholder, so
  that `POSTGRES_PASSWORD=postgres` does not turn the service's name into `***`.

Each value is masked in every form it takes (`forms`: its lines, JSON / repr / XML escapes,
base64 at three offsets, URL-encoded, hex), and so are the prefixes and suffixes of it that
truncation leaves (`matcher`). The password of any URL with userinfo is masked in any text.
Structured artifacts are also redacted by key (`structured`), whatever a value's length.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from ci_toolkit.redact import structured
from ci_toolkit.redact.forms import forms, fragment_forms
from ci_toolkit.redact.matcher import Fragments, mask_spans, trie_pattern
from ci_toolkit.redact.names import NOT_SECRET, looks_secret
from ci_toolkit.redact.structured import MASK, mask_url_passwords, url_passwords

__all__ = ["MASK", "MIN_INFERRED_LENGTH", "MIN_LENGTH", "NOT_SECRET", "REDACTOR", "Redactor", "looks_secret"]

MIN_LENGTH = 4  # a [secrets] value shorter than this would mask ordinary words
MIN_INFERRED_LENGTH = 6  # for values learned from a name, a URL or a key (`MODE=test` is no secret)
# Values a credential-looking variable often holds that are no secret (defaults, placeholders)
# and are ordinary words elsewhere: the service `postgres`, `localhost`. Short ones are below
# MIN_INFERRED_LENGTH anyway. They are still masked by key in structured artifacts.
PLACEHOLDERS = frozenset(
    {"password", "passwd", "secret", "changeme", "postgres", "example", "default", "testing", "localhost"}
    | {"disabled", "enabled", "undefined", "redacted", "******"}
)

# A file system path (NODE_EXTRA_CA_CERTS=/etc/ssl/ca.pem) says where a credential is, not what
# it is; masking it would hide paths in every message. Masked by key all the same.
_PATH = re.compile(r"^(~|\.{1,2})?/[\w.\-/]*$")


class Redactor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._forms: set[str] = set()
        self._fragment_forms: set[str] = set()
        # Built on first use after a change: a burst of `add`s compiles the pattern once.
        self._matcher: tuple[re.Pattern[str] | None, Fragments] | None = None

    def add(self, value: str) -> bool:
        """Mask `value` (and every form of it) from now on. Values shorter than MIN_LENGTH are
        not registered (False): they would mask ordinary words."""
        if len(value) < MIN_LENGTH:
            return False
        new = {form for form in forms(value) if len(form) >= MIN_LENGTH}
        pieces = fragment_forms(value)
        with self._lock:
            self._values.add(value)
            if not new <= self._forms:
                self._forms |= new
                self._fragment_forms |= pieces
                self._matcher = None
        return True

    def learn(self, value: str) -> bool:
        """Register a value inferred to be sensitive, unless it is too short to tell from a word,
        a well-known placeholder, a small number (a port, a timeout) or a file's path."""
        if len(value) < MIN_INFERRED_LENGTH or value.lower() in PLACEHOLDERS or _PATH.match(value):
            return False
        if value.isdigit() and len(value) < 8:
            return False
        return self.add(value)

    def values(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._values)

    def __call__(self, text: str) -> str:
        pattern, fragments = self._current()
        if pattern is not None:
            text = pattern.sub(MASK, text)
        text = mask_url_passwords(text)
        if fragments:
            spans = fragments.spans(text)
            if spans:
                text = mask_spans(text, spans, MASK)
        return text

    def _current(self) -> tuple[re.Pattern[str] | None, Fragments]:
        with self._lock:
            if self._matcher is None:
                self._matcher = (trie_pattern(self._forms), Fragments(self._fragment_forms))
            return self._matcher

    # -- learning ---------------------------------------------------------------------------

    def add_sensitive_env(self, env: Mapping[str, str], names: Iterable[str] = ()) -> None:
        """Learn the values of `names` (required variables) and of credential-looking variables
        (GITHUB_TOKEN, PGPASS, ...), and the password of every URL in any variable."""
        wanted = set(names)
        for name, value in env.items():
            if value and (name in wanted or looks_secret(name)):
                self.learn(value)
            self._learn_url_passwords(value)

    def learn_data(self, data: Any) -> None:
        """Learn from JSON-like data: strings under credential-looking keys, `NAME=value` items
        with a credential-looking NAME (Config.Env), and URL passwords anywhere."""
        for _key, value, secret in structured.leaves(data):
            if secret:
                self.learn(value)
            self._learn_url_passwords(value)

    def learn_output(self, text: str) -> None:
        """Learn from a command's output if it is JSON (`compose config --format json`, one
        object per line for `compose ps`); other output is left to the text filter."""
        if not text.lstrip().startswith(("{", "[")):
            return
        for chunk in (text, *text.splitlines()):
            try:
                self.learn_data(json.loads(chunk))
            except ValueError:
                continue
            if chunk is text:
                return

    def _learn_url_passwords(self, text: str) -> None:
        for password in url_passwords(text):
            self.learn(password)
            self.learn(unquote(password))

    # -- structured artifacts -------------------------------------------------------------

    def env_snapshot(self, env: Mapping[str, str]) -> dict[str, str]:
        """A copy of `env` safe to write to disk: credential-looking values masked by name."""
        return structured.env_snapshot(env, self)

    def data(self, data: Any) -> Any:
        """A copy of JSON-like `data` safe to write: masked by key, every string redacted."""
        return structured.redact_data(data, self)


REDACTOR = Redactor()
