"""A kept stack that the next run of the same project reuses: one lease per config, held by one
run at a time.

The holder holds an exclusive `flock` on `<state>/leases/<name>.lock` from planning to the end of
its teardown; a second run that cannot take it runs on a fresh stack of its own, so two test
runs never share a lease. The kernel drops the lock when the holder dies (SIGKILL, a closed
laptop lid that ends the session), so a dead holder's lease is simply taken by the next run —
which resets it before testing, like any warm run.

`<name>.json` records what the lease is: its identity, the "just migrated" baseline, and when
it was last used (prune removes a lease idle past the TTL, never a held one).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ci_toolkit.config import Config
from ci_toolkit.config.loader import project_slug
from ci_toolkit.reuse import zygote
from ci_toolkit.reuse.identity import Identity
from ci_toolkit.reuse.paths import leases_dir
from ci_toolkit.reuse.zygote import modules_file


@dataclass(frozen=True)
class LeaseRecord:
    project: str
    root: str  # the config's directory: the lease belongs to that project
    identity: Identity
    baseline: Mapping[str, Any] | None = None  # reset.Baseline.to_dict(); None until migrations are done
    services: Mapping[str, Any] = field(default_factory=dict)  # name -> ServiceResult.to_dict() (ports)
    created: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "root": self.root,
            "identity": self.identity.to_dict(),
            "baseline": None if self.baseline is None else dict(self.baseline),
            "services": dict(self.services),
            "created": self.created,
            "last_used": self.last_used,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LeaseRecord:
        return cls(
            project=str(data["project"]),
            root=str(data["root"]),
            identity=Identity.from_dict(data["identity"]),
            baseline=data.get("baseline"),
            services=data.get("services") or {},
            created=float(data["created"]),
            last_used=float(data["last_used"]),
        )


@dataclass(frozen=True)
class LeaseInfo:
    """A lease as `stack leases` lists it."""

    name: str
    record: LeaseRecord | None
    holder: int | None  # pid of the run holding it now, if any

    def to_dict(self) -> dict[str, Any]:
        record = self.record
        return {
            "project": self.name,
            "root": record.root if record else None,
            "key": record.identity.key if record else None,
            "ready": bool(record and record.baseline is not None),
            "created": record.created if record else None,
            "last_used": record.last_used if record else None,
            "held_by": self.holder,
        }


class Lease:
    """A held lease (the lock is ours until `release`)."""

    def __init__(self, name: str, fd: int) -> None:
        self.name = name
        self._fd = fd
        self.found = _read(_record_path(name))  # what the previous holder left

    def save(self, record: LeaseRecord) -> None:
        _write_json(_record_path(self.name), record.to_dict())

    def touch(self) -> None:
        record = _read(_record_path(self.name))
        if record is not None:
            self.save(replace(record, last_used=time.time()))

    def forget(self) -> None:
        _record_path(self.name).unlink(missing_ok=True)

    def discard(self) -> None:
        """Forget the lease altogether (its stack is gone): record and warm pytest. The lock file
        stays (see `acquire`)."""
        zygote.stop(self.name)
        modules_file(self.name).unlink(missing_ok=True)
        self.forget()

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = -1


def name_for(config: Config) -> str:
    """`<prefix>-<dir>-lease-<hash of the config's path>`: two checkouts named alike get two leases."""
    where = hashlib.sha256(str(config.root.resolve()).encode()).hexdigest()[:6]
    return f"{config.project_prefix}-{project_slug(config.root)}-lease-{where}"


ACQUIRE_TRIES = 3  # a prune holding idle leases for a moment must not send a run to a fresh stack


def acquire(name: str) -> Lease | None:
    """The lease, held; None when another live run holds it. The lock file is never removed:
    a run that opened it just before a removal would lock a file nobody else sees."""
    directory = _private(leases_dir())
    fd = os.open(directory / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    for attempt in range(ACQUIRE_TRIES):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if attempt == ACQUIRE_TRIES - 1:
                os.close(fd)
                return None
            time.sleep(0.01)
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return Lease(name, fd)


def holder(name: str) -> int | None:
    """The pid holding the lease, or None if nobody does. Looked up without taking the lock
    (a lookup must never make a run find the lease busy): in /proc/locks on Linux."""
    path = leases_dir() / f"{name}.lock"
    try:
        inode = path.stat().st_ino
    except FileNotFoundError:
        return None
    try:
        locks = Path("/proc/locks").read_text()
    except OSError:
        return _holder_by_trying(path)
    for line in locks.splitlines():  # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
        parts = line.split()
        if len(parts) > 5 and parts[1] == "FLOCK" and parts[5].rsplit(":", 1)[-1] == str(inode):
            return int(parts[4]) if parts[4].isdigit() else -1
    return None


def _holder_by_trying(path: Path) -> int | None:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        text = path.read_text().strip()
        return int(text) if text.isdigit() else -1
    finally:
        os.close(fd)
    return None


def _private(directory: Path) -> Path:
    """The state directories are this user's alone (0700): records hold identities and salts."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def listing() -> list[LeaseInfo]:
    directory = leases_dir()
    if not directory.is_dir():
        return []
    held = {p.stem: holder(p.stem) for p in directory.glob("*.lock")}
    names = sorted({p.stem for p in directory.glob("*.json")} | {n for n, pid in held.items() if pid})
    return [LeaseInfo(n, _read(_record_path(n)), held.get(n)) for n in names]


@contextlib.contextmanager
def idle_held() -> Iterator[dict[str, tuple[float, bool]]]:
    """What prune needs (`activity`), with every idle lease locked meanwhile: no run can take one
    between the decision and the removal. Leases that could not be locked count as held."""
    taken: list[Lease] = []
    found = activity()
    try:
        for name, (last_used, in_use) in found.items():
            held = None if in_use else acquire(name)
            if held is not None:
                taken.append(held)
            found[name] = (last_used, held is None)
        yield found
    finally:
        for held in taken:
            held.release()


def activity() -> dict[str, tuple[float, bool]]:
    """project -> (last used, held now): what prune needs to judge a lease."""
    return {
        info.name: (info.record.last_used if info.record else 0.0, info.holder is not None)
        for info in listing()
    }


def drop(name: str) -> None:
    """Forget a lease whose stack a prune removed while holding it (`idle_held`)."""
    zygote.stop(name)
    modules_file(name).unlink(missing_ok=True)
    _record_path(name).unlink(missing_ok=True)


def _record_path(name: str) -> Path:
    return leases_dir() / f"{name}.json"


def _read(path: Path) -> LeaseRecord | None:
    try:
        return LeaseRecord.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        return None  # unreadable (a crash mid-write of an older version): treated as no lease


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(json.dumps(data, indent=2, sort_keys=True))
    os.replace(tmp, path)  # atomic: a reader sees the old record or the new one
