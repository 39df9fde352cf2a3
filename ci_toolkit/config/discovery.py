"""Which config file a command uses, when it is not named with `--config`.

`CI_TOOLKIT_CONFIG` (a path) wins; else the directories from the current one up to the
repository root (the first holding `.git`, or the filesystem root) are searched, nearest first,
for `ci-toolkit.toml` or a `pyproject.toml` with a `[tool.ci-toolkit]` table. So a command works
from any subdirectory of a project, as git, ruff and pytest do. A `pyproject.toml` without our
table is skipped (a monorepo's package has one of its own), but said in the not-found message.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ci_toolkit.errors import ConfigError

ENV_VAR = "CI_TOOLKIT_CONFIG"
CONFIG_NAME = "ci-toolkit.toml"
PYPROJECT = "pyproject.toml"
TABLE = "[tool.ci-toolkit]"


def find(
    start: Path, explicit: Path | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Path, Mapping[str, Any]]:
    """The config file and its ci-toolkit table: `explicit`, else $CI_TOOLKIT_CONFIG, else the
    nearest one from `start` up to the repository root."""
    if explicit is not None:
        return _named(explicit, f"config file {explicit}", "check the --config path")
    from_env = (os.environ if environ is None else environ).get(ENV_VAR, "")
    if from_env:
        hint = f"unset {ENV_VAR} or point it at a config file"
        return _named(Path(from_env), f"{ENV_VAR}={from_env}: that config file", hint)
    return _walk(start)


def _named(path: Path, what: str, hint: str) -> tuple[Path, Mapping[str, Any]]:
    if not path.is_file():
        raise ConfigError(f"{what} does not exist", hint=hint)
    data = read_toml(path)
    if path.name == PYPROJECT:
        table = tool_table(path, data)
        if table is None:
            raise ConfigError(
                f"{path} has no {TABLE} table",
                hint=f"add one (see README: Configuration) or create {CONFIG_NAME}",
            )
        return path, table
    return path, data


def _walk(start: Path) -> tuple[Path, Mapping[str, Any]]:
    searched: list[str] = []
    directory = start
    for directory in (start, *start.parents):
        toolkit_toml = directory / CONFIG_NAME
        if toolkit_toml.is_file():
            return toolkit_toml, read_toml(toolkit_toml)
        pyproject = directory / PYPROJECT
        if pyproject.is_file():
            table = tool_table(pyproject, read_toml(pyproject))
            if table is not None:
                return pyproject, table
            searched.append(f"    {directory}  ({pyproject} has no {TABLE} table)")
        else:
            searched.append(f"    {directory}")
        if (directory / ".git").exists():
            break  # the repository root: a config above it belongs to something else
    at_root = (directory / ".git").exists()
    where = f"up to the repository root {directory}" if at_root else "up to the filesystem root"
    target = directory if at_root else start
    raise ConfigError(
        f"no ci-toolkit config found in {start} or its parents ({where}); searched, nearest first:\n"
        + "\n".join(searched),
        hint=f"create {target / CONFIG_NAME} or add a {TABLE} table to {target / PYPROJECT} "
        f"(README: Configuration), or pass --config PATH or set {ENV_VAR}",
    )


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def tool_table(path: Path, data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """pyproject.toml's `[tool.ci-toolkit]`, or None when it has none."""
    tool = data.get("tool", {})
    table = tool.get("ci-toolkit") if isinstance(tool, dict) else None
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{path}: tool.ci-toolkit: expected a table")
    return table
