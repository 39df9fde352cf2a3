"""The machine a run measured on: CPU, memory, OS, Docker and Python versions, the images, and
which ci-toolkit (its version through its CLI, the commit of this checkout)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.stack import REPO, env


def describe() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    mem_kb = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if "MemTotal" in line), 0
    )
    dirty = _out(["git", "status", "--porcelain", "--", "ci_toolkit"])
    images = {
        image: _out(["docker", "image", "inspect", image, "--format", "{{.Id}}"])[7:19]
        for image in ("postgres:15", "redis:7", "nats:2.10")
    }
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _os_name(),
        "docker_engine": _out(["docker", "version", "--format", "{{.Server.Version}}"]),
        "docker_cli": _out(["docker", "version", "--format", "{{.Client.Version}}"]),
        "compose": _out(["docker", "compose", "version", "--short"]),
        "python": platform.python_version(),
        # The checkout's ci-toolkit (first on PYTHONPATH in `env()`), asked as a user would.
        "ci_toolkit": _out([sys.executable, "-m", "ci_toolkit", "version"]),
        "git_commit": _out(["git", "rev-parse", "--short", "HEAD"]),
        "ci_toolkit_uncommitted_changes": bool(dirty),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "images": images,
    }


def _out(cmd: list[str]) -> str:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=REPO, env=env())
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _os_name() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.platform()
