"""The one function that decides every file `init` writes, and writes none of them.

Which compose files: those an existing config names, else the repository's own (a test file
alone, else compose's default file and its override), else one written from `--with`. Which
config file: an existing ci-toolkit.toml, else pyproject.toml's [tool.ci-toolkit], else a new
ci-toolkit.toml (or what `--config-file` says). The workflow and a compose file init wrote
before are re-rendered; one without init's header line is the user's and left alone.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ci_toolkit import __version__
from ci_toolkit.errors import ConfigError, UsageError
from ci_toolkit.onboard import compose_template, config_text
from ci_toolkit.onboard import facts as repo_facts
from ci_toolkit.onboard.facts import DEFAULT_COMPOSE, TEST_COMPOSE, RepoFacts
from ci_toolkit.onboard.infer import infer
from ci_toolkit.onboard.model import FileChange, InitOptions, InitPlan, written_by_init

WORKFLOW = ".github/workflows/integration-tests.yml"
ARTIFACTS_IGNORE = "ci-artifacts/"  # the default artifacts_dir: each run's results, never committed


def plan(root: Path, options: InitOptions) -> InitPlan:
    root = root.resolve()
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory", hint="run ci-toolkit init in the repository")
    facts = repo_facts.read(root)
    config_path, config_before, existing = _config_target(root, facts, options)
    compose_files, compose_change, notes = _compose(root, facts, options, existing)
    model, raw = _models(root, compose_files, compose_change)
    inferred = infer(model, raw, facts)
    table = config_text.desired(
        inferred, compose_files, facts.test_paths, facts.coverage_source, facts.migrations_dir
    )
    if config_path.name == "pyproject.toml":
        config_after = config_text.pyproject(config_before or "", table)
    else:
        config_after = config_text.toolkit_toml(config_before, table)
    changes = [c for c in (compose_change,) if c is not None]
    changes.append(FileChange(config_path, config_before, config_after))
    top = _git_top(root)
    if options.workflow and top is not None and top != root:
        notes.append(f"{WORKFLOW} not written: GitHub reads workflows at the repository's root ({top}), "
                     "and its paths would need this directory's prefix; write it there by hand")  # fmt: skip
    elif options.workflow:
        from ci_toolkit.onboard import workflow

        # The same list whether init is about to write the compose file or reads it: idempotent.
        watched = [*compose_files, config_path.relative_to(root).as_posix(), *facts.watched]
        rendered = workflow.render(
            paths=list(dict.fromkeys(watched)),
            install=facts.install,
            options=options,
            version=__version__,
            branch=facts.default_branch,
        )
        changes.append(_owned(root / WORKFLOW, rendered, notes))
    changes.append(_gitignore(root))
    kept = tuple(FileChange(c.path, c.before, _newlines_of(c.before, c.after)) for c in changes)
    return InitPlan(root, config_path, kept, (*notes, *inferred.notes))


def _config_target(
    root: Path, facts: RepoFacts, options: InitOptions
) -> tuple[Path, str | None, Mapping[str, Any] | None]:
    """The config file, its text now, and the ci-toolkit table already in it (None: none yet)."""
    toolkit_toml = root / "ci-toolkit.toml"
    in_pyproject = ((facts.pyproject or {}).get("tool") or {}).get("ci-toolkit")
    if facts.has_toolkit_toml:
        path = toolkit_toml
    elif isinstance(in_pyproject, Mapping) or (
        facts.pyproject is not None and options.target in ("auto", "pyproject")
    ):
        path = root / "pyproject.toml"
    elif options.target == "pyproject":
        raise UsageError(
            f"{root}: no pyproject.toml", hint="leave --config-file out to write ci-toolkit.toml"
        )
    else:
        path = toolkit_toml
    before = _read(path, root)
    if path == toolkit_toml:
        existing: Mapping[str, Any] | None = None
        if before is not None:
            existing = config_text.parse_table(before, path.name)
    else:
        existing = in_pyproject if isinstance(in_pyproject, Mapping) else None
    return path, before, existing


def _compose(
    root: Path, facts: RepoFacts, options: InitOptions, existing: Mapping[str, Any] | None
) -> tuple[tuple[str, ...], FileChange | None, list[str]]:
    notes: list[str] = []
    named = (existing or {}).get("compose_files")
    valid = isinstance(named, list) and named and all(isinstance(f, str) for f in named)
    files = tuple(named) if valid else facts.compose_files  # type: ignore[arg-type]
    ours = facts.generated_compose and files == (compose_template.FILE_NAME,)
    if files and not (ours and options.with_services):
        if options.with_services and not ours:
            notes.append(f"--with ignored: the tests use {', '.join(files)} as it is")
        return files, None, notes
    if not options.with_services:
        raise UsageError(
            f"{root}: no compose file (looked for {', '.join((*TEST_COMPOSE, *DEFAULT_COMPOSE))})",
            hint="say which services the tests need: ci-toolkit init --with postgres,redis,nats",
        )
    path = root / compose_template.FILE_NAME
    text = compose_template.render(options.with_services)
    notes.append(f"{compose_template.FILE_NAME}: {', '.join(options.with_services)} (--with)")
    return (compose_template.FILE_NAME,), FileChange(path, _read(path, root), text), notes


def _models(
    root: Path, files: Sequence[str], written: FileChange | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The compose model as compose resolves it, and the same without interpolation. A compose
    file init is about to write is resolved from a temporary copy: nothing is written yet."""
    if written is None:
        return _config([root / f for f in files], root)
    with tempfile.TemporaryDirectory(prefix="ci-toolkit-init-") as tmp:
        copy = Path(tmp) / written.path.name
        copy.write_text(written.after, encoding="utf-8")
        return _config([copy], Path(tmp))


def _config(files: list[Path], workdir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from ci_toolkit.stack import compose

    model = compose.load_model(files, (), workdir, {})
    return model, compose.load_model(files, (), workdir, {}, interpolate=False)


def _owned(path: Path, rendered: str, notes: list[str]) -> FileChange:
    """A file init writes whole: re-rendered while it carries init's header, else left alone."""
    before = _read(path, path.parents[2])
    if before is not None and not written_by_init(before):
        notes.append(f"{WORKFLOW}: yours (no `ci-toolkit init` header line): left as it is")
        return FileChange(path, before, before)
    return FileChange(path, before, rendered)


def _git_top(root: Path) -> Path | None:
    """The directory holding `.git` at or above `root` (None outside a git repository)."""
    return next((d for d in (root, *root.parents) if (d / ".git").exists()), None)


def _gitignore(root: Path) -> FileChange:
    path = root / ".gitignore"
    before = _read(path, root)
    lines = (before or "").splitlines()
    if any(line.strip().strip("/") == ARTIFACTS_IGNORE.strip("/") for line in lines):
        return FileChange(path, before, before or "")
    sep = "" if not before or before.endswith("\n") else "\n"
    return FileChange(path, before, f"{before or ''}{sep}{ARTIFACTS_IGNORE}\n")


def _read(path: Path, root: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")  # as it is: CRLF stays CRLF
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path.relative_to(root)}: {exc}") from None


def _newlines_of(before: str | None, after: str) -> str:
    """`after` with the line endings `before` has (a CRLF file stays CRLF, every line of it)."""
    if before is None or "\r\n" not in before:
        return after
    return after.replace("\r\n", "\n").replace("\n", "\r\n")
