"""Which variable (or JSON key) names hold credentials.

A name is split into parts on `_`, `-`, `.` and camelCase humps (`apiKey` -> API, KEY), so
that short words only count as whole words: `STRIPE_KEY`, `API_KEY`, `SSH_KEY` hold keys,
`KEYBOARD` and `MONKEY` do not.
"""

from __future__ import annotations

import re

# Words that mark a credential wherever they occur in a part: DBPASSWORD, GHTOKEN, MYSECRETS.
_ANYWHERE = (
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "TOKEN",
    "CREDENTIAL",
    "WEBHOOK",
    "PRIVATE",
    "COOKIE",
    "AUTHORIZATION",
    "APIKEY",
    "ACCESSKEY",
    "PRIVKEY",
    "AUTHKEY",
)
# Short words that count only as a whole part (plural too): KEY is not in MONKEY, PAT not in COMPAT.
_WHOLE = ("PASS", "PWD", "PW", "KEY", "AUTH", "DSN", "CERT", "SESSION", "CREDS", "JWT", "BEARER", "PAT")
# ... of which these also end a part: PGPASS, DBPWD, OAUTH, SENTRYDSN (but not BYPASS, COMPASS).
_SUFFIXES = ("PASS", "PWD", "AUTH", "DSN")
_NOT_A_SUFFIX = frozenset({"BYPASS", "COMPASS", "SURPASS", "OLDPWD"})
# A last part naming where a credential is, not the credential: POSTGRES_PASSWORD_FILE, SSL_CERT_DIR.
_LOCATION = frozenset({"FILE", "FILES", "DIR", "DIRS", "PATH", "PATHS", "SOCK", "SOCKET", "BUNDLE"})

# Names the rules above match that hold no secret: masking the shell's working directory
# would turn every path in the output into `***`.
NOT_SECRET = frozenset(
    {
        "PWD",
        "OLDPWD",
        "XAUTHORITY",
        "SSH_AUTH_SOCK",
        "DBUS_SESSION_BUS_ADDRESS",
        "DESKTOP_SESSION",
        "SESSION_MANAGER",
        "GNOME_DESKTOP_SESSION_ID",
        "TERM_SESSION_ID",
        "XDG_SESSION_ID",
        "XDG_SESSION_TYPE",
        "XDG_SESSION_CLASS",
        "XDG_SESSION_DESKTOP",
        "TOKENIZERS_PARALLELISM",
    }
)

_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^A-Z0-9]+")


def name_parts(name: str) -> list[str]:
    """`STRIPE_KEY` -> [STRIPE, KEY]; `apiKey` -> [API, KEY]; `--db-password` -> [DB, PASSWORD]."""
    return [part for part in _SEPARATORS.split(_HUMP.sub("_", name).upper()) if part]


def _credential_part(part: str) -> bool:
    if any(word in part for word in _ANYWHERE):
        return True
    if part in _WHOLE or (part.endswith("S") and part[:-1] in _WHOLE):
        return True
    return part not in _NOT_A_SUFFIX and part.endswith(_SUFFIXES)


def looks_secret(name: str) -> bool:
    """Whether a variable (or JSON key, or `--option`) called `name` holds a credential."""
    if name in NOT_SECRET:
        return False
    parts = name_parts(name)
    if not parts or parts[-1] in _LOCATION:
        return False
    return any(_credential_part(part) for part in parts)
