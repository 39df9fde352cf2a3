"""What `init` is asked to do and what it decided: frozen, made once, applied once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# The first line of every file init writes whole (compose file, workflow). A file that starts with
# it is init's to rewrite; delete the line and init leaves the file alone.
MARKER = "# Written by `ci-toolkit init`"
WITH_KINDS = ("postgres", "redis", "nats")  # `--with`: the services init can write a compose file for
TARGETS = ("auto", "pyproject", "ci-toolkit.toml")  # where the config goes; auto: pyproject.toml if any


def written_by_init(text: str) -> bool:
    """Whether the file is init's to rewrite: its first line is init's marker (deleting that line,
    as the header says, makes the file the user's)."""
    return text.startswith(MARKER)


@dataclass(frozen=True)
class InitOptions:
    with_services: tuple[str, ...] = ()  # only used when the repository has no compose file
    target: str = "auto"
    workflow: bool = True  # write .github/workflows/integration-tests.yml
    toolkit_repository: str = ""  # OWNER/NAME of ci-toolkit's actions; "" = install from the index
    toolkit_ref: str = ""  # the 40-hex commit of those actions
    python_version: str = "3.12"


@dataclass(frozen=True)
class FileChange:
    """One file init writes. `before` is None when the file does not exist yet."""

    path: Path  # absolute
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class InitPlan:
    root: Path
    config_path: Path  # the file holding the config (pyproject.toml or ci-toolkit.toml)
    changes: tuple[FileChange, ...]
    notes: tuple[str, ...] = field(default=())  # what was inferred, one line each, for the user

    @property
    def pending(self) -> tuple[FileChange, ...]:
        return tuple(c for c in self.changes if c.changed)
