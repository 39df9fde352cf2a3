"""The job summary of a GitHub Actions run and the one command that reproduces it locally."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_toolkit.config import Config
from ci_toolkit.output import markdown as md
from ci_toolkit.redact import REDACTOR
from ci_toolkit.results.model import RunResult

REPRODUCE_ENV = "CI_TOOLKIT_REPRODUCE_ENV"  # extra variable names the run depends on


MAX_SUMMARY_FAILURES = 30


MESSAGE_CHARS = 800


_ICONS = {"passed": "✅", "interrupted": "⚠️"}


@dataclass(frozen=True)
class Invocation:
    """How the run was started: enough to point annotations at files and to repeat it."""

    cwd: Path
    root: Path  # where pytest ran (test file paths are relative to it)
    config_path: Path | None = None  # as given with --config
    config_source: Path | None = None
    pytest_args: tuple[str, ...] = ()
    options: tuple[str, ...] = ()  # other command-line options that shape the run (`cli_options`)
    env: tuple[tuple[str, str], ...] = ()  # variables the run depended on, with their values
    secret_env: tuple[str, ...] = ()  # ... and those whose values are secrets (names only)

    @classmethod
    def current(
        cls,
        config_path: Path | None,
        pytest_args: Sequence[str],
        config: Config | None,
        environ: Mapping[str, str] | None = None,
        options: Sequence[str] = (),
    ) -> Invocation:
        environ = os.environ if environ is None else environ
        names = re.split(r"[\s,]+", environ.get(REPRODUCE_ENV, "").strip())
        if config is not None:
            names += config.required_env
            names += [n for n, d in config.env_defaults.items() if environ.get(n, d) != d]
        env: list[tuple[str, str]] = []
        secret: list[str] = []
        for name in dict.fromkeys(n for n in names if n and environ.get(n)):
            value = environ[name]
            if REDACTOR.env_snapshot({name: value})[name] != value:  # a secret, or a URL password
                secret.append(name)
            else:
                env.append((name, value))
        cwd = Path.cwd()
        return cls(
            cwd,
            config.root if config else cwd,
            config_path,
            config.source if config else None,
            tuple(pytest_args),
            tuple(options),
            tuple(env),
            tuple(secret),
        )


def cli_options(**values: str | float | bool | Path | tuple[str, ...] | None) -> tuple[str, ...]:
    """`suite="smoke", secrets_from_env=True, services=("db",)` -> `("--suite", "smoke",
    "--secrets-from-env", "--service", "db")`: a tuple is a repeatable option, once per value."""
    args: list[str] = []
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, tuple):
            args += [a for v in value for a in (flag.removesuffix("s"), str(v))]
        elif value is True:
            args.append(flag)
        elif value is not None and value is not False:
            args += [flag, str(value)]
    return tuple(args)


def reproduce_command(inv: Invocation, workspace: Path) -> str:
    """The one command that repeats this run on the same checkout."""
    parts: list[str] = []
    where = relative_to(inv.cwd, workspace)
    if where not in (".", str(inv.cwd)):
        parts += ["cd", shlex.quote(where), "&&"]
    parts += [f"{name}={shlex.quote(value)}" for name, value in inv.env]
    parts += ["ci-toolkit", "integration-run"]
    if inv.config_path is not None:
        parts += ["--config", shlex.quote(relative_to(inv.config_path, inv.cwd))]
    parts += map(shlex.quote, inv.options)
    if inv.pytest_args:
        parts += ["--", *map(shlex.quote, inv.pytest_args)]
    return REDACTOR(" ".join(parts))


def summary_markdown(result: RunResult, inv: Invocation, workspace: Path, sha: str = "") -> str:
    icon = _ICONS.get(result.status, "❌")
    out = [f"## {icon} ci-toolkit integration-run: {result.status} (exit code {result.exit_code})", ""]
    if result.message and result.status not in ("passed", "tests_failed"):
        out += [md.fenced(result.message), ""]
    if result.phases:
        out += ["| phase | status | seconds |", "| --- | --- | ---: |"]
        out += [f"| {md.cell(p.name)} | {md.cell(p.status)} | {p.seconds:.2f} |" for p in result.phases]
        out += [f"| **total** | | **{sum(p.seconds for p in result.phases):.2f}** |", ""]
    if result.project and any(p.name == "up" for p in result.phases):
        down = next((p for p in result.phases if p.name == "down"), None)
        fate = "torn down" if down and down.status == "ok" else "**still running?** see the cleanup step"
        if down is None and result.status == "passed":
            fate = f"kept running (`ci-toolkit stack down --project {result.project}` removes it)"
        out += [f"Stack {md.code(result.project)}: {fate}", ""]
    if result.services:
        out += ["| service | ready in | ports |", "| --- | ---: | --- |"]
        for name, svc in sorted(result.services.items()):
            ready = "-" if svc.ready_seconds is None else f"{svc.ready_seconds:.2f} s"
            ports = ", ".join(f"{c} → {svc.host}:{h}" for c, h in sorted(svc.ports.items()))
            out.append(f"| {md.cell(name)} | {ready} | {md.cell(ports)} |")
        out.append("")
    t = result.tests
    if t.total or result.status in ("passed", "tests_failed", "coverage_below_threshold"):
        tests = f"**Tests:** {t.describe()}"
        if result.coverage_percent is not None:
            tests += f" · **coverage** {result.coverage_percent:.1f}%"
        out += [tests, ""]
    if t.failures:
        out += ["### Failed tests", ""]
        for failure in t.failures[:MAX_SUMMARY_FAILURES]:
            where = (
                f" ({relative_to(inv.root / failure.file, workspace)}:{failure.line})" if failure.file else ""
            )
            out += [
                f"- {md.code(failure.id)}{md.cell(where)}",
                "",
                md.fenced(trim(failure.message), "  "),
                "",
            ]
        if len(t.failures) > MAX_SUMMARY_FAILURES:
            out += [f"… and {len(t.failures) - MAX_SUMMARY_FAILURES} more (see junit.xml)", ""]
    if t.flaky:
        out += ["### Flaky tests", "", "Failed, then passed on a rerun:", ""]
        out += [f"- {md.code(test)}" for test in t.flaky[:MAX_SUMMARY_FAILURES]]
        if len(t.flaky) > MAX_SUMMARY_FAILURES:
            out += [f"- … and {len(t.flaky) - MAX_SUMMARY_FAILURES} more (see run.json)"]
        out.append("")
    on = f" on a checkout of {md.code(sha[:12])}" if sha else " on the same checkout"
    out += [
        "### Reproduce locally",
        "",
        f"Run{on}:",
        "",
        md.fenced(reproduce_command(inv, workspace), lang="sh"),
    ]
    if inv.secret_env:
        out += ["", f"with {', '.join(map(md.code, inv.secret_env))} exported (secret: values not shown)."]
    if result.artifacts_dir:
        out += ["", f"Artifacts (logs, JUnit, coverage): {md.code(result.artifacts_dir)}"]
    return REDACTOR("\n".join(out) + "\n")


def relative_to(path: Path, base: Path) -> str:
    """`path` relative to `base` when inside it (annotations need repository paths)."""
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def trim(text: str) -> str:
    lines = text.strip().splitlines()
    short = "\n".join(lines[:12])
    if len(short) > MESSAGE_CHARS:
        short = short[:MESSAGE_CHARS].rstrip()
    return short + ("\n…" if short != text.strip() else "")
