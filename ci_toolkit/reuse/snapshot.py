"""Snapshots of a migrated stack's data, kept on this machine for cold CI runs.

`<snapshots_dir>/<key>/` holds `manifest.json` and one gzip tar per service. An entry is written
in a hidden `.tmp-*` directory and renamed into place whole, so a capture killed midway leaves
nothing that looks like a snapshot; every use re-verifies the checksums, so a damaged entry is
skipped with a warning and removed, never loaded. A snapshot's last use is its manifest's mtime
(the LRU order of `prune`), so a hit rewrites nothing.

The whole API is here; `snapshot_data` takes and loads the data through the engine
(`capture`, `restore`), `snapshot_entry` is what an entry holds and how one is written.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tarfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import IO

from ci_toolkit.errors import InfrastructureError
from ci_toolkit.reuse.paths import snapshots_dir
from ci_toolkit.reuse.snapshot_data import capture, restore, verified_archive
from ci_toolkit.reuse.snapshot_entry import (
    CHUNK,
    MANIFEST,
    ArchiveInfo,
    Entry,
    Manifest,
    Sink,
    Unusable,
    decode,
    entry_dir,
    place,
    read,
    remove,
    unwritable,
    verify,
    work_dir,
    writing,
)

__all__ = [
    "EXPORT_NAME",
    "ArchiveInfo",
    "Entry",
    "Manifest",
    "capture",
    "entry_dir",
    "export",
    "find",
    "import_",
    "listing",
    "prune",
    "restore",
    "verified_archive",
    "writing",
]

EXPORT_NAME = "ci-toolkit-snapshot.tar"  # the one file `export` leaves in a directory (actions/cache)
STALE_WORK = 3600.0  # a `.tmp-`/`.trash-` directory this old belongs to a process that died

Warn = Callable[[str], None]


def find(key: str, *, warn: Warn) -> Manifest | None:
    """The verified snapshot for `key`, marked as used now; a damaged one is removed with a warning."""
    directory = entry_dir(key)
    if not directory.is_dir():
        return None
    try:
        manifest = verify(directory, key)
    except Unusable as why:
        warn(f"snapshot {key}: {why}; skipped, starting fresh")
        remove(directory)
        return None
    except FileNotFoundError:
        return None  # removed while being read (a concurrent prune or replace)
    except OSError as exc:  # not ours to delete (permissions): leave it, do not use it
        warn(f"snapshot {key}: cannot be read ({exc.strerror or exc}); skipped, starting fresh")
        return None
    now = time.time()
    with contextlib.suppress(OSError):
        os.utime(directory / MANIFEST, (now, now))
    return replace(manifest, last_used=now)


def listing() -> list[Manifest]:
    """Every entry whose manifest reads (archives not re-hashed), most recently used first."""
    found = []
    for directory in _entries():
        with contextlib.suppress(OSError, Unusable):
            found.append(read(directory))
    return sorted(found, key=lambda m: m.last_used, reverse=True)


def prune(keep: int) -> list[str]:
    """Remove all but the `keep` most recently used entries; the removed keys, least recent first.
    Work directories left by a capture or import that died are removed once stale."""
    if keep < 0:
        raise ValueError("keep must be 0 or more")
    root, now = snapshots_dir(), time.time()
    if root.is_dir():
        for work in root.glob(".*"):
            if work.is_dir() and now - _mtime(work) > STALE_WORK:
                shutil.rmtree(work, ignore_errors=True)
    ranked = sorted(_entries(), key=lambda d: (_mtime(d / MANIFEST) or _mtime(d), d.name))
    removed = ranked[: max(0, len(ranked) - keep)]
    for directory in removed:
        remove(directory)
    return [d.name for d in removed]


def export(key: str, directory: Path) -> Path:
    """The verified snapshot as one file, `directory/ci-toolkit-snapshot.tar` (its manifest and its
    gzip archives, each checksummed by the manifest), e.g. for actions/cache."""
    source = entry_dir(key)
    try:
        manifest = verify(source, key)
    except (Unusable, OSError) as why:
        raise InfrastructureError(
            f"snapshot {key} cannot be exported: {why}", hint="capture it again (a cold run does)"
        ) from None
    target = directory / EXPORT_NAME
    work = directory / f".{EXPORT_NAME}.{secrets.token_hex(4)}.tmp"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(work, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # as the store's
        with (
            os.fdopen(descriptor, "wb") as out,
            tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for name in (MANIFEST, *(a.file for a in manifest.archives.values())):
                tar.add(source / name, arcname=name, recursive=False)
        os.replace(work, target)
    except OSError as exc:
        raise unwritable(f"export of snapshot {key}", target, exc) from None
    finally:
        with contextlib.suppress(OSError):
            work.unlink()  # gone already once in place
    return target


def import_(directory: Path, *, warn: Warn) -> Manifest | None:
    """Place the snapshot exported into `directory` in the local store, once every checksum
    verifies; none there -> None, a damaged one -> a warning and None (the file is left)."""
    source = directory / EXPORT_NAME
    if not source.is_file():
        return None
    with work_dir(f"import of {source}", snapshots_dir() / "import") as work:
        try:
            manifest = _unpack(source, work)
        except Unusable as why:
            warn(f"snapshot in {source}: {why}; skipped, starting fresh")
            return None
        place(work, entry_dir(manifest.key))
    return replace(manifest, last_used=time.time())


def _unpack(source: Path, work: Path) -> Manifest:
    try:
        with tarfile.open(source, "r:") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            if MANIFEST not in members or members[MANIFEST].size > CHUNK:
                raise Unusable("it has no manifest.json")
            raw = _member(tar, members[MANIFEST]).read()
            manifest = decode(raw, time.time())
            for service, info in manifest.archives.items():
                if info.file not in members:
                    raise Unusable(f"the archive of {service} ({info.file}) is missing")
                with Sink(work / info.file, f"service {service}") as sink:
                    shutil.copyfileobj(_member(tar, members[info.file]), sink)
                if (sink.size, sink.sha256) != (info.bytes, info.sha256):
                    raise Unusable(f"the archive of {service} does not match its sha256 checksum")
    except (tarfile.TarError, EOFError) as exc:
        raise Unusable(f"it is not a readable snapshot export ({exc})") from None
    with Sink(work / MANIFEST, f"snapshot {manifest.key}") as sink:
        sink.write(raw)
    return manifest


def _member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    handle = tar.extractfile(member)
    if handle is None:
        raise Unusable(f"{member.name} is not a file")
    return handle


def _entries() -> list[Path]:
    root = snapshots_dir()
    if not root.is_dir():
        return []
    return [d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
