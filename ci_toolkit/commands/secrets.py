"""`ci-toolkit secrets check`: resolve every [secrets] entry; print names and sources, never values."""

from __future__ import annotations

from pathlib import Path

from ci_toolkit import secret_store
from ci_toolkit.commands.common import CommonOptions, emit_json
from ci_toolkit.errors import CiToolkitError


def secrets_check(opts: CommonOptions, *, from_env: bool, file: Path | None) -> int:
    config = opts.load_config()
    reporter = opts.reporter()
    source = secret_store.source_label(from_env, file)
    if not config.secrets.configured and file is None:
        reporter.line(f"{config.source}: no [secrets] configured", always=True)
        if opts.json_mode:
            emit_json({"status": "ok", "source": source, "secrets": []})
        return 0
    resolution = secret_store.resolve(
        config.secrets,
        source,
        file=file,
        stream=reporter.stream,
        reserved=secret_store.reserved_names(config),
    )
    for entry in resolution.entries:
        reporter.line(f"  {entry.describe()}", always=True)
    failure: CiToolkitError | None = None
    try:
        resolution.raise_if_failed()
    except CiToolkitError as exc:  # the same ranking decides the JSON and the exit code
        failure = exc
    if opts.json_mode:
        emit_json(
            {
                "status": "ok" if failure is None else failure.status,
                "exit_code": 0 if failure is None else failure.exit_code,
                "source": resolution.source,
                "secrets": [e.to_dict() for e in resolution.entries],
                "messages": [str(p) for p in resolution.problems],
            }
        )
    if failure is not None:
        raise failure
    skipped = sum(1 for e in resolution.entries if e.status == "skipped")
    reporter.line(
        f"secrets: {len(resolution.values)} resolved from {resolution.source}"
        + (f", {skipped} optional not set" if skipped else ""),
        always=True,
    )
    return 0
