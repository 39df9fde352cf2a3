"""The one user-facing error hierarchy; each class carries its documented exit code.

Every expected failure is raised as a `CiToolkitError` subclass. The error boundary
(`error_handler.py`) turns them into a message and an exit code; anything else is a bug.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence


class ExitCode:
    OK = 0
    TESTS_FAILED = 1
    CONFIG = 2
    ENVIRONMENT = 3
    INFRASTRUCTURE = 4
    MIGRATIONS = 5
    TEST_RUNNER = 6
    ARTIFACTS = 7  # the artifacts dir could not be written: no space left, over quota, read-only
    HISTORY = 8  # the history store could not be read or written (a directory, an S3 bucket)
    ONBOARD = 9  # `init` could not write its files (nothing changed), or a batch repository failed
    SECRET_NOT_FOUND = 10
    SECRET_ACCESS_DENIED = 11
    SECRET_NO_CREDENTIALS = 12
    INTERNAL = 70
    INTERRUPTED = 130  # SIGINT; SIGTERM gives 143 (128 + signal number)


class CiToolkitError(Exception):
    """An expected failure with a message that says what happened and what to do."""

    exit_code = ExitCode.INTERNAL
    status = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class ConfigError(CiToolkitError):
    exit_code = ExitCode.CONFIG
    status = "config_error"


class UsageError(ConfigError):
    """Bad command-line usage; same exit code as a config error."""


class EnvironmentInvalid(CiToolkitError):
    exit_code = ExitCode.ENVIRONMENT
    status = "env_error"


class InfrastructureError(CiToolkitError):
    """The engine, compose, or a service of the stack did not do what was needed."""

    exit_code = ExitCode.INFRASTRUCTURE
    status = "infra_error"


class ServiceNotReady(InfrastructureError):
    def __init__(self, service: str, message: str, *, logs: str = "", hint: str | None = None):
        super().__init__(message, hint=hint)
        self.service = service
        self.logs = logs

    def __str__(self) -> str:
        text = super().__str__()
        if self.logs:
            tail = "\n".join(f"    {line}" for line in self.logs.rstrip().splitlines())
            text += f"\n  last log lines of {self.service}:\n{tail}"
        return text


class ServiceAuthFailed(ServiceNotReady):
    """A service refused the readiness probe's credentials (or demands some it was not given):
    waiting cannot fix that, so the wait ends at the first such answer."""


class EngineLost(InfrastructureError):
    """The connection to the Docker engine was lost mid-run (the engine stopped or restarted)."""


class ArtifactsUnwritable(CiToolkitError):
    """The artifacts dir's filesystem refused a write (ENOSPC, EDQUOT, EROFS): the machine's fault,
    not a bug; the stack is torn down all the same and the result still goes to stdout."""

    exit_code = ExitCode.ARTIFACTS
    status = "artifacts_error"


class HistoryError(CiToolkitError):
    """The history store ([history] store, --store) could not be read or written: the store is
    named, and what to do. `integration-run` only warns: the run's result is not changed by it."""

    exit_code = ExitCode.HISTORY
    status = "history_error"


class OnboardError(CiToolkitError):
    """`ci-toolkit init` could not write a repository's setup (a read-only directory, a file that
    vanished): nothing was changed, the file is named. In a batch: a repository failed (clone,
    commit, push), the others went on."""

    exit_code = ExitCode.ONBOARD
    status = "onboard_error"


class MigrationError(CiToolkitError):
    exit_code = ExitCode.MIGRATIONS
    status = "migration_error"


class TestRunnerError(CiToolkitError):
    """pytest itself failed (usage error, internal error, nothing collected)."""

    __test__ = False  # not a pytest test class, despite the name
    exit_code = ExitCode.TEST_RUNNER
    status = "test_runner_error"


class SecretError(CiToolkitError):
    """Parameter Store could not be used: unreachable, throttled past every retry, a bad answer."""

    exit_code = ExitCode.INFRASTRUCTURE
    status = "infra_error"


class SecretNotFound(SecretError):
    """A required SSM parameter (or every parameter under a required path) does not exist."""

    exit_code = ExitCode.SECRET_NOT_FOUND
    status = "secret_not_found"


class SecretAccessDenied(SecretError):
    """The caller may not read (or decrypt) an SSM parameter."""

    exit_code = ExitCode.SECRET_ACCESS_DENIED
    status = "secret_access_denied"


class SecretNoCredentials(SecretError):
    """No AWS credentials were found, or the ones found were rejected."""

    exit_code = ExitCode.SECRET_NO_CREDENTIALS
    status = "secret_no_credentials"


class Interrupted(CiToolkitError):
    """A signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) stopped the run; exit code is 128 + signal number."""

    status = "interrupted"

    def __init__(self, signum: int) -> None:
        import signal

        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}; the stack was torn down")
        self.signum = signum
        self.exit_code = 128 + signum


class CommandError(CiToolkitError):
    """A subprocess exited non-zero or timed out. Carries the command and its output."""

    exit_code = ExitCode.INFRASTRUCTURE
    status = "infra_error"

    def __init__(
        self,
        cmd: Sequence[str],
        returncode: int | None,
        stdout: str,
        stderr: str,
        *,
        timeout: float | None = None,
    ) -> None:
        self.cmd = list(cmd)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.timeout = timeout
        quoted = shlex.join(self.cmd)
        if timeout is not None:
            message = f"command timed out after {timeout:g}s: {quoted}"
        else:
            message = f"command failed with exit code {returncode}: {quoted}"
        output = (stderr or stdout).strip()
        if output:
            message += "\n" + "\n".join(f"    {line}" for line in output.splitlines()[-20:])
        super().__init__(message)


def raise_ranked(
    problems: Sequence[CiToolkitError], priority: Sequence[type[CiToolkitError]], heading: str
) -> None:
    """Raise every collected problem at once, as the kind earliest in `priority` (its exit code wins).

    One problem is raised as itself; several become one error listing them all under `heading`.
    """
    if not problems:
        return
    if len(problems) == 1:
        raise problems[0]

    def rank(error: CiToolkitError) -> int:
        return next((i for i, kind in enumerate(priority) if isinstance(error, kind)), len(priority))

    ranked = sorted(problems, key=rank)
    text = "\n".join("  - " + str(p).replace("\n", "\n    ") for p in ranked)
    raise type(ranked[0])(f"{len(ranked)} {heading}:\n{text}")
