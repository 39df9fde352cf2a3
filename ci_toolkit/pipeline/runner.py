"""Which interpreter runs the tests, and how ci-toolkit's pytest plugins reach it.

The command prefix that runs `python -m pytest`, in this order: `pytest.runner` ("uv run",
"poetry run", "hatch run" or a path to a python), `pytest.python`, then what lies beside the
config: `.venv/bin/python`, `uv.lock` (uv run), `poetry.lock` (poetry run); else ci-toolkit's own
interpreter. `pytest.python_args` go right after the interpreter.

Another interpreter cannot import `ci_toolkit`, so the two plugin files (which import nothing of
ci_toolkit) are copied into the run's directory as top-level modules, put first on that process's
PYTHONPATH and loaded by those names. Whether pytest and pytest-cov are importable there is asked
once (`python -c ...`): without pytest-cov the run goes on without coverage, and says how to add it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_toolkit import proc
from ci_toolkit.config import PytestConfig
from ci_toolkit.errors import CommandError, ConfigError, TestRunnerError

TOOLS = {  # `<tool> run` -> what to install, and how pytest-cov is added to its environment
    "uv": ("uv (`pipx install uv`, or see https://docs.astral.sh/uv/)", "`uv add --dev pytest-cov`"),
    "poetry": ("poetry (`pipx install poetry`)", "`poetry add --group dev pytest-cov`"),
    "hatch": ("hatch (`pipx install hatch`)", "pytest-cov in the hatch environment's dependencies"),
}
DETECTED = (("uv.lock", "uv"), ("poetry.lock", "poetry"))  # after .venv/bin/python, in this order
CONFIG_FILES = ("ci-toolkit.toml", "pyproject.toml")  # the loader's order: what "beside" names
PLUGIN_DIR = ".ci-toolkit-plugins"  # in the run's directory
PLUGINS = {  # our module -> the top-level name it is loaded by in another interpreter
    "pytest_plugin": "ci_toolkit_pytest_plugin",
    "pytest_shard": "ci_toolkit_pytest_shard",
}
OWN_PLUGINS = ("ci_toolkit.pytest_plugin", "ci_toolkit.pytest_shard")
PROBE = (
    "import importlib.util as u; "
    "print('ci-toolkit-probe', *(u.find_spec(m) is not None for m in ('pytest', 'pytest_cov')))"
)
PROBE_TIMEOUT = 120.0  # `uv run` / `poetry run` may install the environment first


@dataclass(frozen=True)
class Runner:
    prefix: tuple[str, ...]  # what comes before `-m pytest`, python_args included
    shown: str  # the runner as the user would name it (".venv/bin/python", "uv run")
    why: str  # where the choice came from ("pytest.runner", "found beside pyproject.toml")
    own: bool  # ci-toolkit's own interpreter: our plugins import as ci_toolkit.*, the zygote fits
    tool: str | None = None  # uv, poetry, hatch, or None for a python

    @property
    def line(self) -> str:
        return f"    pytest runs with {self.shown} ({self.why})"

    @property
    def forkable(self) -> bool:
        """A warm run forks pytest from a zygote of ci-toolkit's own interpreter only; interpreter
        flags (-X dev, -bb) are set when an interpreter starts, so they rule a fork out too."""
        return self.own and self.prefix == (sys.executable,)

    @property
    def record(self) -> dict[str, object]:
        """For run.json: the runner, why it was chosen, and the command prefix."""
        return {"runner": self.shown, "why": self.why, "prefix": list(self.prefix), "own": self.own}

    @property
    def plugins(self) -> tuple[str, ...]:
        return OWN_PLUGINS if self.own else tuple(PLUGINS.values())

    def how_to_add(self, package: str) -> str:
        """How `package` gets into this runner's environment (not ci-toolkit's)."""
        if self.tool is not None:
            return TOOLS[self.tool][1].replace("pytest-cov", package)
        python = shlex.quote(self.prefix[0])
        return f"`{python} -m pip install {package}` or `uv pip install --python {python} {package}`"


def resolve(cfg: PytestConfig, root: Path | None) -> Runner:
    """The runner for `cfg`; `root` is the config's directory (None: nothing is detected)."""
    flags = tuple(cfg.python_args)
    if cfg.runner is not None:
        return _named(cfg.runner, "pytest.runner", root, flags, "pytest.runner")
    if cfg.python is not None:
        return _python(cfg.python, "pytest.python", root, flags, "pytest.python")
    if root is None:
        return _own(flags, "ci-toolkit's own interpreter")
    beside = f"found beside {next((n for n in CONFIG_FILES if (root / n).is_file()), 'the config')}"
    venv = root / ".venv" / "bin" / "python"
    if venv.exists():
        return _python(str(venv), beside, root, flags, "pytest.runner", shown=".venv/bin/python")
    for marker, tool in DETECTED:
        if (root / marker).is_file():
            return _tool([tool, "run"], f"{marker} {beside}", root, flags, "pytest.runner")
    return _own(flags, f"no .venv, uv.lock or poetry.lock {beside}")


def _named(text: str, why: str, root: Path | None, flags: tuple[str, ...], key: str) -> Runner:
    words = shlex.split(text)
    if len(words) >= 2 and words[0] in TOOLS and words[1] == "run":
        return _tool(words, why, root, flags, key)
    if len(words) == 1:
        return _python(words[0], why, root, flags, key)
    raise ConfigError(
        f"{key} = {text!r}: not a runner ci-toolkit knows",
        hint='use "uv run", "poetry run", "hatch run" (each may add its own options) or a path to a python',
    )


def _tool(words: list[str], why: str, root: Path | None, flags: tuple[str, ...], key: str) -> Runner:
    tool = words[0]
    if shutil.which(tool) is None:
        raise ConfigError(
            f"pytest runs with `{' '.join(words)}` ({why}), and {tool} is not on PATH",
            hint=f"install {TOOLS[tool][0]}, or set {key} to another runner or a path to a python",
        )
    if tool == "uv" and root is not None and not {"--project", "--directory"} & set(words):
        words = [*words[:2], "--project", str(root), *words[2:]]
    return Runner((*words, "python", *flags), " ".join(words[:2]), why, own=False, tool=tool)


def _python(
    path: str, why: str, root: Path | None, flags: tuple[str, ...], key: str, shown: str | None = None
) -> Runner:
    found = _find(path, root)
    if found is None:
        raise ConfigError(f"{key} = {path!r}: no such python", hint=f"{key} takes a path to an interpreter")
    if _same_environment(found, sys.executable):
        return _own(flags, why, shown or path)
    return Runner((found, *flags), shown or path, why, own=False)


def _own(flags: tuple[str, ...], why: str, shown: str | None = None) -> Runner:
    return Runner((sys.executable, *flags), shown or sys.executable, why, own=True)


def _find(path: str, root: Path | None) -> str | None:
    if "/" not in path:
        return shutil.which(path)
    candidate = Path(path) if root is None else root / path  # an absolute path stays as it is
    return str(candidate.absolute()) if candidate.exists() else None


def _same_environment(python: str, ours: str) -> bool:
    """One interpreter in one environment: a venv's python is a link to the base one, so the
    environment is told by the directory it lies in, not by where the link leads."""
    try:
        return os.path.realpath(python) == os.path.realpath(ours) and os.path.samefile(
            Path(python).parent, Path(ours).parent
        )
    except OSError:
        return False


def install_plugins(run_dir: Path) -> Path:
    """Our plugin files as top-level modules in the run's directory, for another interpreter."""
    here = Path(__file__).resolve().parent.parent
    target = run_dir / PLUGIN_DIR
    target.mkdir(parents=True, exist_ok=True)
    for ours, name in PLUGINS.items():
        text = (here / f"{ours}.py").read_text(encoding="utf-8")
        dest = target / f"{name}.py"
        if not dest.is_file() or dest.read_text(encoding="utf-8") != text:
            dest.write_text(text, encoding="utf-8")
    return target


def python_path(plugins: Path, env: Mapping[str, str]) -> str:
    """PYTHONPATH with the plugins first, the caller's (or this process's) after."""
    rest = env.get("PYTHONPATH", os.environ.get("PYTHONPATH", ""))
    return os.pathsep.join(p for p in (str(plugins), rest) if p)


_probed: dict[tuple[str, ...], bool] = {}  # prefix -> pytest-cov importable there (pytest is)


def has_coverage(runner: Runner, cwd: Path, env: Mapping[str, str]) -> bool:
    """Whether pytest-cov is importable in the runner's environment (asked once per runner); a
    TestRunnerError when pytest itself is not."""
    if runner.own:
        return True  # both are ci-toolkit's own dependencies
    if runner.prefix not in _probed:
        cmd = [*runner.prefix, "-c", PROBE]
        try:
            out = proc.run(cmd, env=env, cwd=cwd, timeout=PROBE_TIMEOUT).stdout
        except CommandError as exc:
            raise TestRunnerError(
                f"could not start {runner.shown} ({runner.why}): {exc.message}",
                hint=f"try `{shlex.join(cmd[:-2])} -c pass` in {cwd}",
            ) from None
        found = next((ln.split()[1:] for ln in out.splitlines() if ln.startswith("ci-toolkit-probe")), [])
        if found[:1] != ["True"]:
            raise TestRunnerError(
                f"pytest is not installed where the tests run: {runner.shown} ({runner.why})",
                hint=f"add it to that environment: {runner.how_to_add('pytest')}",
            )
        _probed[runner.prefix] = found[1:2] == ["True"]
    return _probed[runner.prefix]


def coverage_note(runner: Runner) -> str:
    return (
        f"    coverage not measured: pytest-cov is not installed where the tests run ({runner.shown}); "
        f"add it there with {runner.how_to_add('pytest-cov')}"
    )


# Plugins that options need, by the name of their pytest11 entry point: `-p NAME` loads a
# plugin even with PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 and is a no-op when it is already loaded.
PLUGIN_OPTIONS = {
    "xdist": ("-n", "--numprocesses", "--maxprocesses", "--dist", "--max-worker-restart"),
    "timeout": ("--timeout", "--timeout-method", "--timeout_method", "--timeout-func-only"),
    "pytest_cov": ("--cov", "--cov-report", "--cov-fail-under", "--cov-config", "--no-cov"),
}


def plugin_args(args: Sequence[str]) -> list[str]:
    """`-p NAME` for each plugin whose options appear in `args` (unless args load or block it)."""
    named = {args[i + 1] for i, a in enumerate(args[:-1]) if a == "-p"}
    named |= {a[2:] for a in args if a.startswith("-p") and len(a) > 2}
    out: list[str] = []
    for plugin, options in PLUGIN_OPTIONS.items():
        used = any(a.split("=", 1)[0] in options for a in args)
        if plugin == "xdist":  # also the short forms -n4, -nauto
            used = used or any(a.startswith("-n") and a[2:3].isalnum() for a in args)
        if used and plugin not in named and f"no:{plugin}" not in named:
            out += ["-p", plugin]
    return out


def runner_args(workers: str | None = None, test_timeout: float | None = None) -> list[str]:
    """pytest-xdist workers (`-n`) and pytest-timeout's per-test limit (`--timeout`)."""
    args = ["-n", workers] if workers else []
    return args + ([f"--timeout={test_timeout:g}"] if test_timeout else [])
