"""What a run leaves behind in its artifacts dir: service logs, `ps` JSON, the commands run,
a redacted environment snapshot and `run.json`. Everything goes through the redaction filter;
JSON is also redacted by key before it is serialised (`REDACTOR.data`), so a credential-looking
key's value is masked whatever its length, and escaping cannot hide a value from the filter.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ci_toolkit.error_handler import FULL_DISK, disk_full
from ci_toolkit.errors import ArtifactsUnwritable
from ci_toolkit.pipeline.context import process_env
from ci_toolkit.proc import COMMAND_LOG
from ci_toolkit.redact import REDACTOR
from ci_toolkit.stack import compose
from ci_toolkit.stack.engine import Engine


def write_text(path: Path, text: str) -> Path:
    """Write one artifact (redacted). A full, over-quota or read-only filesystem raises
    `ArtifactsUnwritable` naming the path, and leaves no truncated file behind."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(REDACTOR(text), encoding="utf-8")
    except OSError as exc:
        if exc.errno not in FULL_DISK:
            raise
        path.unlink(missing_ok=True)
        raise disk_full(exc, path) from exc
    return path


def make_room(run_dir: Path, keep: Sequence[str]) -> list[str]:
    """Delete the largest evidence files of a run whose filesystem is full, so that the small,
    most useful ones (`keep`: run.json, SUMMARY.md) fit. Returns what was deleted."""
    files = [p for p in run_dir.rglob("*") if p.is_file() and p.name not in keep and p.stat().st_size]
    files.sort(key=lambda p: p.stat().st_size, reverse=True)
    dropped = []
    for path in files[:5]:
        dropped.append(f"{path.relative_to(run_dir)} ({path.stat().st_size} bytes)")
        path.unlink(missing_ok=True)
    return dropped


def write_json(path: Path, data: Any) -> Path:
    safe = REDACTOR.data(json.loads(json.dumps(data, default=str)))  # plain JSON types, then by key
    return write_text(path, json.dumps(safe, indent=2, sort_keys=False) + "\n")


def collect_stack(
    run_dir: Path, stack: compose.Stack, engine: Engine | None, *, compose_ps: bool
) -> list[str]:
    """Service logs and state, taken before teardown removes them. Returns problems seen.

    `ps.json` comes from the engine (one API call per container); `compose_ps` adds
    `docker compose ps` itself (`compose-ps.json`, ~0.1 s more) for the diagnostics bundle.
    """
    problems: list[str] = []
    if compose_ps or engine is None:
        try:
            write_json(run_dir / "compose-ps.json", compose.ps_json(stack))
        except ArtifactsUnwritable:
            raise
        except Exception as exc:  # collecting evidence must never mask the run's own outcome
            problems.append(f"compose-ps.json: {exc}")
    if engine is None:
        write_text(run_dir / "logs" / "all.log", compose.logs(stack))
        return problems
    try:
        containers = engine.containers(stack.project)
    except Exception as exc:
        return [*problems, f"containers: {exc}"]
    write_json(run_dir / "ps.json", [state.to_dict() for state in containers])
    inspected = []
    for state in containers:
        try:
            inspected.append(engine.inspect_raw(state.id))
        except Exception as exc:
            problems.append(f"{state.name}: {exc}")
    # Each container's environment (Config.Env) is learned before its logs are written, so a
    # service that prints a credential it was given has it masked in its log as well.
    REDACTOR.learn_data(inspected)
    for state in containers:
        try:
            write_text(run_dir / "logs" / f"{state.service or state.name}.log", engine.logs(state.id))
        except ArtifactsUnwritable:
            raise  # the disk is full: the next container's logs will not fit either
        except Exception as exc:
            problems.append(f"{state.name}: {exc}")
    write_json(run_dir / "inspect.json", inspected)
    return problems


def write_commands(run_dir: Path) -> None:
    write_json(run_dir / "commands.json", [_command(r.to_dict(), r.cmd) for r in COMMAND_LOG.records()])


def _command(record: dict[str, Any], argv: Sequence[str]) -> dict[str, Any]:
    """A command's record with its arguments (`--password=...`) and JSON output (`compose config
    --format json`: environments, env_file contents) redacted by key, like any JSON we write."""
    return {
        **record,
        "cmd": shlex.join(REDACTOR.data(list(argv))),
        "stdout": _redacted_output(record["stdout"]),
    }


def _redacted_output(text: str) -> str:
    if not text.lstrip().startswith(("{", "[")):
        return text
    try:
        return json.dumps(REDACTOR.data(json.loads(text)), indent=2 if "\n" in text.strip() else None)
    except ValueError:  # one JSON object per line (`compose ps --format json`), or not JSON at all
        try:
            return "\n".join(
                json.dumps(REDACTOR.data(json.loads(line))) for line in text.splitlines() if line
            )
        except ValueError:
            return text


def write_env_snapshot(run_dir: Path, extra: dict[str, str]) -> None:
    write_json(run_dir / "env.json", REDACTOR.env_snapshot(process_env(extra)))
