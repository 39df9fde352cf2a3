"""Fingerprints of the files a stack is built from or mounts: build contexts, Dockerfiles,
bind-mount sources, configs and secrets files (`identity`'s `files` part).

Content, not times: a file under 1 MiB counts by path, size, executable bit and sha256, so a
fresh checkout (new mtimes) keeps the key; bigger files by size and mtime. Capped per source;
beyond the cap the source is "unhashable" and the stack is never reused.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from ci_toolkit.config.model import DEFAULT_ARTIFACTS_DIR

MAX_ENTRIES = 20_000  # files, directories and links per source
MAX_READ = 500 * 1024 * 1024  # bytes read per source
HASHED_BELOW = 1024 * 1024  # smaller files are hashed; bigger ones enter as size + mtime
# VCS data, caches, dependency installs and our own output: rewritten by runs (or huge); what an
# image installs from them is pinned by the lock files, which do count.
_CACHES = (".pytest_cache", ".mypy_cache", ".ruff_cache")
SKIPPED_DIRS = frozenset(
    (".git", "__pycache__", "node_modules", ".venv", ".tox", ".nox", *_CACHES, DEFAULT_ARTIFACTS_DIR)
)
HOST_PATHS = ("/proc", "/sys", "/dev", "/run", "/var/run")  # the host's state (docker.sock), not input


def file_sources(model: Mapping[str, Any]) -> list[str]:
    """Every host path compose reads: build contexts (and a Dockerfile outside its context),
    bind-mount sources, and `configs`/`secrets` files, as "kind:path" (absolute, or remote)."""
    found: set[str] = set()
    for svc in (model.get("services") or {}).values():
        build = svc.get("build")
        if isinstance(build, Mapping) and build.get("context"):
            context = str(build["context"])
            found.add(f"build:{context}")
            found.update(
                f"build:{c}" for c in (build.get("additional_contexts") or {}).values() if is_local(c)
            )
            dockerfile = os.path.normpath(os.path.join(context, str(build.get("dockerfile") or "Dockerfile")))
            if is_local(context) and not dockerfile.startswith(context.rstrip("/") + "/"):
                found.add(f"dockerfile:{dockerfile}")
        for volume in svc.get("volumes") or ():
            if isinstance(volume, Mapping) and volume.get("type") == "bind" and volume.get("source"):
                found.add(f"bind:{volume['source']}")
    for kind in ("configs", "secrets"):  # compose (without swarm) bind-mounts these files
        found.update(f"bind:{s['file']}" for s in (model.get(kind) or {}).values() if (s or {}).get("file"))
    return sorted(s for s in found if not _host_state(s.partition(":")[2]))


def file_digests(model: Mapping[str, Any], *, skip_dirs: Collection[Path] = ()) -> dict[str, str]:
    """Each source's fingerprint; a source inside a skipped directory (something bind-mounted
    from the artifacts directory, say) is left out: it is output, not input."""
    skip = {os.path.realpath(p) for p in skip_dirs}
    paths = {source: source.partition(":")[2] for source in file_sources(model)}
    return {
        source: fingerprint(path, skip)
        for source, path in paths.items()
        if not (is_local(path) and _inside(os.path.realpath(path), skip))
    }


def fingerprint(source: str, skip: Collection[str] = ()) -> str:
    """A digest of the file or tree at `source`, or "why:source" when it cannot be had cheaply
    and surely. A missing source digests as an empty directory: compose creates it as one."""
    if not is_local(source):
        return f"remote:{source}"
    digest = hashlib.sha256()
    try:
        for record in _records(os.path.realpath(source), skip):
            digest.update("\0".join(record).encode("utf-8", "surrogateescape") + b"\0")
    except _TooLarge:
        return f"unhashable:{source}"
    except OSError:  # permission denied, or a file vanished mid-walk: something writes there
        return f"unreadable:{source}"
    return digest.hexdigest()[:16]


class _TooLarge(Exception):
    pass


def _records(root: str, skip: Collection[str]) -> Iterator[tuple[str, ...]]:
    """(kind, path relative to root, ...) for every entry, in a stable order; links not followed."""
    try:
        top = os.stat(root)
    except FileNotFoundError:
        yield ("dir",)
        return
    if stat.S_ISREG(top.st_mode):
        yield ("file",)
        yield _file_record("", root, top, [0])
        return
    if not stat.S_ISDIR(top.st_mode):
        yield ("other",)  # a socket or a fifo: opening a fifo would block
        return
    yield ("dir",)
    skip = {*skip, *HOST_PATHS}  # a bind-mounted "/" must not read /proc
    entries, read, pending = 0, [0], [""]
    while pending:
        rel = pending.pop()
        with os.scandir(os.path.join(root, rel)) as listing:
            children = sorted(listing, key=lambda e: e.name)
        for entry in children:
            path = f"{rel}/{entry.name}" if rel else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if is_dir and (entry.name in SKIPPED_DIRS or entry.path in skip):
                continue
            entries += 1
            if entries > MAX_ENTRIES:
                raise _TooLarge
            if entry.is_symlink():
                yield ("l", path, os.readlink(entry.path))
            elif is_dir:
                yield ("d", path)
                pending.append(path)
            elif entry.is_file(follow_symlinks=False):
                yield _file_record(path, entry.path, entry.stat(follow_symlinks=False), read)
            else:
                yield ("o", path)  # a socket or a fifo: never read


def _file_record(rel: str, path: str, st: os.stat_result, read: list[int]) -> tuple[str, ...]:
    executable = "x" if st.st_mode & stat.S_IXUSR else "-"
    if st.st_size >= HASHED_BELOW:
        return ("F", rel, str(st.st_size), str(st.st_mtime_ns), executable)
    with open(path, "rb", buffering=0) as f:  # unbuffered: one read() for a small file
        content = f.read()
    read[0] += len(content)
    if read[0] > MAX_READ:
        raise _TooLarge
    return ("f", rel, str(len(content)), executable, hashlib.sha256(content).hexdigest())


def is_local(path: object) -> bool:
    return isinstance(path, str) and path.startswith("/")


def _host_state(path: str) -> bool:
    return _inside(path, HOST_PATHS)


def _inside(path: str, dirs: Collection[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in dirs)
