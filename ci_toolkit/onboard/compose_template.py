"""The compose file `init --with postgres,redis,nats` writes for a repository that has none:
public images, dynamic host ports on 127.0.0.1 (concurrent runs never collide), test logins."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from ci_toolkit.errors import UsageError
from ci_toolkit.onboard.model import MARKER, WITH_KINDS

FILE_NAME = "docker-compose.test.yml"

_SERVICES = {
    "postgres": """\
  postgres:
    image: postgres:17
    environment:
      POSTGRES_USER: test
      POSTGRES_PASSWORD: test
      POSTGRES_DB: app
    ports:
      - "127.0.0.1::5432"
""",
    "redis": """\
  redis:
    image: redis:7
    ports:
      - "127.0.0.1::6379"
""",
    "nats": """\
  nats:
    image: nats:2.10
    command: ["-js"]
    ports:
      - "127.0.0.1::4222"
""",
}


def kinds(values: Sequence[str]) -> tuple[str, ...]:
    """`--with` as given (comma-separated, repeatable), checked, in a fixed order."""
    wanted = [v.strip().lower() for value in values for v in value.split(",") if v.strip()]
    for name in wanted:
        if name not in WITH_KINDS:
            near = difflib.get_close_matches(name, WITH_KINDS, n=1)
            raise UsageError(
                f"--with {name}: not a service init can write",
                hint=(f"did you mean {near[0]!r}? " if near else "") + f"choose from {', '.join(WITH_KINDS)}",
            )
    return tuple(k for k in WITH_KINDS if k in wanted)


def render(services: Sequence[str]) -> str:
    header = (
        f"{MARKER} --with {','.join(services)}; delete this line to keep your edits"
        " (init then leaves the file alone).\n"
        "# The services the tests need. Host ports are dynamic (127.0.0.1::PORT): runs never collide,\n"
        "# and ci-toolkit exports the real addresses to the tests (DATABASE_URL, REDIS_URL, NATS_URL).\n"
    )
    return header + "services:\n" + "\n".join(_SERVICES[s] for s in services)
