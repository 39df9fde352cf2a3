"""The stack a tier-3 `stack up` left running, so later commands can find it.

Kept in `<artifacts_dir>/stack.json`; `--project` on a command overrides it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_toolkit.config import Config
from ci_toolkit.errors import UsageError
from ci_toolkit.pipeline.context import artifacts_root
from ci_toolkit.redact import looks_secret
from ci_toolkit.redact.structured import url_passwords
from ci_toolkit.stack.compose import Stack

FILE_NAME = "stack.json"


@dataclass(frozen=True)
class SavedStack:
    stack: Stack
    run_id: str

    def to_dict(self) -> dict[str, Any]:
        # Credential-looking values never reach the artifacts dir; config defaults among them are
        # resolved again from the config when a tier-3 command attaches.
        env = {k: v for k, v in self.stack.env.items() if not looks_secret(k) and not url_passwords_in(v)}
        return {**self.stack.to_dict(), "run_id": self.run_id, "env": env}


def url_passwords_in(value: str) -> bool:
    return any(True for _ in url_passwords(value))


def path_for(config: Config, artifacts_dir: Path | None = None) -> Path:
    return artifacts_root(artifacts_dir, config) / FILE_NAME


def save(path: Path, saved: SavedStack) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(saved.to_dict(), indent=2) + "\n")


def load(config: Config, path: Path, project: str | None) -> SavedStack:
    if path.is_file():
        data = json.loads(path.read_text())
        if project is None or project == data["project"]:
            stack = Stack(
                data["project"],
                tuple(Path(f) for f in data["files"]),
                tuple(data["profiles"]),
                Path(data["workdir"]),
                data.get("env", {}),
            )
            return SavedStack(stack, data.get("run_id", ""))
    if project is None:
        raise UsageError(
            f"no running stack recorded in {path}",
            hint="start one with `ci-toolkit stack up`, or pass --project NAME",
        )
    return SavedStack(Stack(project, config.compose_files, config.profiles, config.root), "")


def forget(path: Path, project: str) -> None:
    if path.is_file() and json.loads(path.read_text()).get("project") == project:
        path.unlink()
