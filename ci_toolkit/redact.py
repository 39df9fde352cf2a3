"""The one redaction filter: every line ci-toolkit prints or writes passes through it.

Values are registered as soon as they are known (fetched secrets; the values of required
and credential-looking environment variables); each is replaced by `***` wherever it appears.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Mapping

MASK = "***"
_MIN_ENV_LENGTH = 8  # for values registered because of their variable's name
MIN_LENGTH = 4  # shorter values would mask ordinary words
# Credential-looking variable names whose values are redacted in environment snapshots.
SENSITIVE_NAME = re.compile(r"(?i)(secret|token|passw(or)?d|pwd|api[_-]?key|credential|private|auth|session)")
# Names the pattern above matches that hold no secret: masking the shell's working directory
# would turn every path in the output into `***`.
NOT_SECRET = frozenset(
    {
        "PWD",
        "OLDPWD",
        "XAUTHORITY",
        "SSH_AUTH_SOCK",
        "DBUS_SESSION_BUS_ADDRESS",
        "XDG_SESSION_ID",
        "XDG_SESSION_TYPE",
        "XDG_SESSION_CLASS",
        "XDG_SESSION_DESKTOP",
    }
)


def looks_secret(name: str) -> bool:
    return name not in NOT_SECRET and SENSITIVE_NAME.search(name) is not None


_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")


class Redactor:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        if len(value) < MIN_LENGTH:
            return
        with self._lock:
            if value not in self._values:
                self._values.add(value)
                ordered = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def values(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._values)

    def __call__(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern is not None else text

    def add_sensitive_env(self, env: Mapping[str, str], names: Iterable[str] = ()) -> None:
        """Register the values of `names` and of credential-looking variables (GITHUB_TOKEN, ...).

        Short values are left out here: a required `MODE=test` must not mask the word "test".
        """
        wanted = set(names)
        for name, value in env.items():
            if (name in wanted or looks_secret(name)) and len(value) >= _MIN_ENV_LENGTH:
                self.add(value)

    def env_snapshot(self, env: dict[str, str]) -> dict[str, str]:
        """A copy of `env` safe to write to disk: credential-looking values masked."""
        safe = {}
        for name, value in sorted(env.items()):
            if looks_secret(name) and value:
                safe[name] = MASK
            else:
                safe[name] = _URL_PASSWORD.sub(r"\g<scheme>\g<user>:" + MASK + "@", self(value))
        return safe


REDACTOR = Redactor()
