"""The tier-1 workflow `ci-toolkit init` writes: .github/workflows/integration-tests.yml.

Written as text, not dumped from a mapping: the comments and the key order are ours, and the
same input gives the same bytes, which `init --check` compares. Every value that comes from the
repository (a path glob, the Python version) is a double-quoted YAML scalar; the install command
is a literal block in a `run:` step, where no `${{ }}` may ever appear (an expression there is
pasted into the script before the shell sees it). Two ways to get ci-toolkit:

- from the package index (no --toolkit-ref): actions/setup-python, `pip install ci-toolkit==V`,
  `ci-toolkit integration-run --github`, then the artifacts uploaded and the stack removed;
- ci-toolkit's composite actions at one commit (--toolkit-repository, --toolkit-ref): they do
  the same (actions/README.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ci_toolkit.errors import UsageError
from ci_toolkit.onboard.model import MARKER, InitOptions
from ci_toolkit.onboard.pins import CHECKOUT, SETUP_PYTHON, UPLOAD_ARTIFACT

PATH = ".github/workflows/integration-tests.yml"
ARTIFACT_NAME = "ci-toolkit-integration-tests"  # index mode; a re-run replaces it (overwrite)
TIMEOUT_MINUTES = 30
_SHA = re.compile(r"[0-9a-fA-F]{40}")
_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
# What pip accepts after `==` and a shell reads as one plain word (it goes into a run: step).
_VERSION = re.compile(r"[0-9][0-9A-Za-z.+!_-]*")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}


def render(
    *, paths: Sequence[str], install: str, options: InitOptions, version: str, branch: str = "main"
) -> str:
    """The workflow's text. `paths`: repository-relative globs for the push and pull_request
    paths filters (this workflow file is added); `install`: the shell command that installs the
    test dependencies, "" for none; `version`: ci-toolkit's own version; `branch`: the
    repository's default branch (pushes to it run the tests)."""
    if not _VERSION.fullmatch(version):
        raise UsageError(
            f"ci-toolkit version {version!r}: not a version pip can install (ci-toolkit==VERSION)"
        )
    actions = _toolkit_actions(options)
    script = _script(install)
    watched = [*dict.fromkeys([*(p for p in paths if p), PATH])]
    lines = [
        f"{MARKER} (ci-toolkit {version}): the integration tests, tier 1.",
        "# `ci-toolkit init --check` reports drift between this file and what init would write now;",
        "# `ci-toolkit init` rewrites it. To make the file yours, delete the first line: init then",
        "# leaves it alone.",
        "name: integration tests",
        "",
        "# On what the tests depend on (the compose files, the config, migrations, tests, sources,",
        "# lock files, this workflow), on pull requests touching those, and by hand.",
        "on:",
        "  push:",
        f"    branches: [{branch if _BRANCH.fullmatch(branch) else 'main'}] # the default branch",
        *_paths(watched),
        "  pull_request:",
        *_paths(watched),
        "  workflow_dispatch:",
        "",
        "# One run per branch or pull request: a new push cancels the run it makes obsolete.",
        "concurrency:",
        "  group: ${{ github.workflow }}-${{ github.ref }}",
        "  cancel-in-progress: true",
        "",
        "permissions: {} # nothing by default: the job asks for what it needs",
        "",
        "jobs:",
        "  integration:",
        "    name: integration tests",
        "    runs-on: ubuntu-latest # Docker with Compose v2, which ci-toolkit runs the stack with",
        f"    timeout-minutes: {TIMEOUT_MINUTES}",
        "    permissions:",
        "      contents: read # actions/checkout",
        "    steps:",
        "      - name: Check out",
        f"        uses: {CHECKOUT.uses}",
        "        with:",
        "          persist-credentials: false # later steps need no token in .git/config",
    ]
    python = _quote(options.python_version)
    if actions is None:
        if not options.python_version:
            raise UsageError(
                "--python: empty, and the workflow installs ci-toolkit into the Python it sets up",
                hint="give a version (--python 3.12), or use ci-toolkit's actions (--toolkit-ref)",
            )
        lines += [
            "      - name: Set up Python",
            f"        uses: {SETUP_PYTHON.uses}",
            "        with:",
            f"          python-version: {python}",
            "      - name: Install ci-toolkit",
            f'        run: python -m pip install --disable-pip-version-check "ci-toolkit=={version}"',
            *_install_step(script),
            "      - name: ci-toolkit integration-run",
            "        id: run",
            "        run: ci-toolkit integration-run --github",
            "      # The logs, JUnit XML, coverage and run.json of the run, passed or failed.",
            "      - name: Upload the run's artifacts",
            "        if: ${{ always() && steps.run.outputs.artifacts-dir != '' }}",
            f"        uses: {UPLOAD_ARTIFACT.uses}",
            "        with:",
            f"          name: {ARTIFACT_NAME}",
            "          path: ${{ steps.run.outputs.artifacts-dir }}",
            "          retention-days: 7",
            "          if-no-files-found: ignore",
            "          overwrite: true # a re-run of the job replaces the artifact of the run before",
            "      # integration-run removes its stack itself; this catches a run killed on the way.",
            "      - name: Remove the stack if it is still there",
            "        if: ${{ always() && steps.run.outputs.project != '' }}",
            "        env:",
            "          PROJECT: ${{ steps.run.outputs.project }}",
            '        run: ci-toolkit stack down --project "$PROJECT"',
        ]
    else:
        repository, sha = actions
        lines += [
            "      # Python and ci-toolkit of this commit, on PATH (with pip, for the next step).",
            "      - name: Set up Python and ci-toolkit",
            f"        uses: {repository}/actions/setup@{sha} # v{version}",
            "        with:",
            f"          python-version: {python}",
            *_install_step(script),
            "      # Runs the tests, uploads the artifacts, removes the stack (passed or failed).",
            "      - name: ci-toolkit integration-run",
            f"        uses: {repository}/actions/integration-run@{sha} # v{version}",
        ]
    return "\n".join(lines) + "\n"


# A branch name written as a plain YAML scalar: git's common names, nothing YAML reads otherwise.
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


def _toolkit_actions(options: InitOptions) -> tuple[str, str] | None:
    """(OWNER/NAME, commit) of ci-toolkit's composite actions, or None: install from the index."""
    ref, repository = options.toolkit_ref, options.toolkit_repository
    if not ref:
        if repository:
            raise UsageError(
                f"--toolkit-repository {repository}: the workflow needs the commit of its actions too",
                hint="add --toolkit-ref <40-hex commit SHA>, or leave both out to install from the index",
            )
        return None
    if not _SHA.fullmatch(ref):
        raise UsageError(
            f"--toolkit-ref {ref}: not a 40-hex commit SHA; a branch or tag can move, a commit cannot",
            hint=f"git ls-remote https://github.com/{repository or 'OWNER/ci-toolkit'} {ref}",
        )
    if not repository:
        raise UsageError(
            f"--toolkit-ref {ref}: which repository is that commit in?",
            hint="add --toolkit-repository OWNER/NAME (where ci-toolkit's actions/ are)",
        )
    if not _REPOSITORY.fullmatch(repository) or repository.split("/")[1] in (".", ".."):
        raise UsageError(f"--toolkit-repository {repository}: expected OWNER/NAME of a GitHub repository")
    return repository, ref.lower()


def _script(install: str) -> str:
    """The install command as a run: step's script, refused where it cannot be one."""
    script = install.strip()
    if "${{" in script:
        raise UsageError(
            f"install command {script!r}: `${{{{ }}}}` inside run: is pasted into the script unquoted",
            hint="pass values to the command through the environment",
        )
    if any(not (c.isprintable() or c in "\t\n") for c in script):
        raise UsageError(f"install command {script!r}: a control character cannot go into the workflow")
    return script


def _install_step(script: str) -> list[str]:
    if not script:
        return []
    # A literal block: the shell gets the command as it is, quotes and colons included.
    body = [f"          {line}".rstrip() for line in script.splitlines()]
    return ["      - name: Install the test dependencies", "        run: |", *body]


def _paths(watched: Sequence[str]) -> list[str]:
    return ["    paths:", *(f"      - {_quote(p)}" for p in watched)]


def _quote(text: str) -> str:
    """A YAML double-quoted scalar: `*`, `!`, `#`, `: `, spaces and a leading `[` or `{` are
    plain characters in it; anything not printable is an escape."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        else:  # U+0085, U+2028 and the like are line breaks to YAML: never raw
            code = ord(char)
            out.append(
                f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
            )
    return '"' + "".join(out) + '"'
