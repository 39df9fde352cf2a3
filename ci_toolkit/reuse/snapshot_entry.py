"""What a snapshot entry is and how one is written: its manifest (self-checksummed), its
archives' checksums, files hashed as written (a full disk is a clean error), and an entry built
in a hidden work directory that is renamed into place whole or not at all."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

from ci_toolkit import __version__
from ci_toolkit.errors import InfrastructureError
from ci_toolkit.reuse.paths import STATE_DIR_VARIABLE, snapshots_dir

FORMAT = 1
MANIFEST = "manifest.json"
CHUNK = 1 << 20
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")  # a key or an archive: one plain file name
# Compression, measured on a migrated postgres:15 data dir (a 75 MB tar of 1306 files, 2 cores):
#   none 0.04 s 74.9 MB | gzip-1 0.52 s 17.6 MB | gzip-6 1.83 s 15.8 MB
#   zstd-1 0.14 s 14.3 MB | zstd-3 0.31 s 14.8 MB   (zstandard 0.25; not a ci-toolkit dependency)
# gzip-1: 4x smaller for actions/cache for 0.5 s, stdlib only, and the engine's archive endpoint
# decompresses gzip itself, so a restore streams the stored file unchanged (Docker 20.10 does
# not know zstd: zstd would add a dependency and decompression in Python to save ~0.4 s).
GZIP_LEVEL = 1
_END_OF_TAR = bytes(1024)  # a complete tar stream ends with two zero blocks


@dataclass(frozen=True)
class ArchiveInfo:
    file: str  # in the entry's directory
    data_path: str  # the directory it was taken from, in the container
    sha256: str  # of the file as stored (compressed)
    bytes: int
    raw_bytes: int  # of the uncompressed tar


@dataclass(frozen=True)
class Manifest:
    key: str
    identity: Mapping[str, Any]
    migrations: tuple[tuple[str, str], ...]  # (file name, sha256) applied, in order
    archives: Mapping[str, ArchiveInfo]  # service -> its archive
    created: float
    last_used: float
    ci_toolkit_version: str

    def archive_path(self, service: str) -> Path:
        return entry_dir(self.key) / self.archives[service].file

    def content(self) -> dict[str, Any]:
        """What manifest.json holds: everything but `last_used` (the file's mtime)."""
        return {
            "format": FORMAT,
            "key": self.key,
            "identity": dict(self.identity),
            "migrations": [list(m) for m in self.migrations],
            "archives": {s: asdict(a) for s, a in sorted(self.archives.items())},
            "created": self.created,
            "ci_toolkit_version": self.ci_toolkit_version,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.content(), "last_used": self.last_used}


class Unusable(Exception):
    """Why a stored or imported snapshot cannot be used (the caller warns and skips it)."""


def entry_dir(key: str) -> Path:
    if not NAME.fullmatch(key):
        raise ValueError(f"snapshot key {key!r} is not a plain name ([A-Za-z0-9_.-], 128 at most)")
    return snapshots_dir() / key


def verify(directory: Path, key: str) -> Manifest:
    """The entry's manifest, once it and every archive match their checksums; else `Unusable`."""
    manifest = read(directory)
    if manifest.key != key:
        raise Unusable(f"its manifest is for key {manifest.key}")
    for service, info in manifest.archives.items():
        path = directory / info.file
        if not path.is_file():
            raise Unusable(f"the archive of {service} ({info.file}) is missing")
        with path.open("rb") as handle:
            size, sha256 = digest_of(handle)
        if size != info.bytes:
            raise Unusable(f"the archive of {service} is {size} bytes, not {info.bytes} (truncated?)")
        if sha256 != info.sha256:
            raise Unusable(f"the archive of {service} does not match its sha256 checksum")
    return manifest


def read(directory: Path) -> Manifest:
    path = directory / MANIFEST
    if not path.is_file():
        raise Unusable("manifest.json is missing")
    return decode(path.read_bytes(), path.stat().st_mtime)


def encode(manifest: Manifest) -> bytes:
    body = manifest.content()
    return json.dumps({**body, "checksum": _checksum(body)}, indent=2, sort_keys=True).encode()


def decode(raw: bytes, last_used: float) -> Manifest:
    try:
        body = json.loads(raw)
        checksum = body.pop("checksum")
    except (ValueError, AttributeError, KeyError, TypeError):
        raise Unusable("manifest.json is not a snapshot manifest") from None
    if checksum != _checksum(body):
        raise Unusable("manifest.json does not match its checksum")
    if body.get("format") != FORMAT:
        raise Unusable(f"manifest format {body.get('format')!r} is not {FORMAT} (another ci-toolkit?)")
    try:
        archives = {str(s): ArchiveInfo(**a) for s, a in body["archives"].items()}
        manifest = Manifest(
            str(body["key"]), dict(body["identity"]), tuple((str(n), str(s)) for n, s in body["migrations"]),
            archives, float(body["created"]), last_used, str(body["ci_toolkit_version"]),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError, AttributeError):
        raise Unusable("manifest.json is incomplete") from None
    names = [manifest.key, *(a.file for a in archives.values())]
    if not all(NAME.fullmatch(n) and n != MANIFEST for n in names):
        raise Unusable("manifest.json names a file outside its snapshot")
    return manifest


def _checksum(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def digest_of(handle: BinaryIO) -> tuple[int, str]:
    """(bytes, sha256) of what is left to read."""
    digest, size = hashlib.sha256(), 0
    while block := handle.read(CHUNK):
        digest.update(block)
        size += len(block)
    return size, digest.hexdigest()


class Sink:
    """A new file, hashed as written; any write failure (ENOSPC) is an InfrastructureError."""

    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what, self.size = path, what, 0
        self._digest = hashlib.sha256()
        try:
            # 0600: a database's files (password hashes, test data) are nobody else's to read
            self._file = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        except OSError as exc:
            raise unwritable(what, path, exc) from None

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def write(self, data: bytes) -> int:
        try:
            self._file.write(data)
        except OSError as exc:
            raise unwritable(self.what, self.path, exc) from None
        self._digest.update(data)
        self.size += len(data)
        return len(data)

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._file.close()  # flushes: a full disk may only show here
        except OSError as error:
            if exc[0] is None:
                raise unwritable(self.what, self.path, error) from None


def unwritable(what: str, path: Path, exc: OSError) -> InfrastructureError:
    return InfrastructureError(
        f"cannot write the snapshot file {path} ({what}): {exc.strerror or exc}; nothing was kept",
        hint=f"free space there (`df -h {path.parent}`), prune old snapshots, or point "
        f"{STATE_DIR_VARIABLE} at another disk",
    )


class Entry:
    """A snapshot being written in a hidden directory; `commit` puts it in place whole."""

    def __init__(self, key: str, directory: Path) -> None:
        self.key, self.directory = key, directory
        self.archives: dict[str, ArchiveInfo] = {}

    def add_archive(self, service: str, data_path: str, tar_chunks: Iterable[bytes]) -> ArchiveInfo:
        """Compress an uncompressed tar stream into the entry; the stream's own errors pass through."""
        name = f"{service}.tar.gz"
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 31: gzip framing
        raw, tail = 0, b""
        with Sink(self.directory / name, f"service {service}") as sink:
            for chunk in tar_chunks:
                raw += len(chunk)
                tail = chunk[-1024:] if len(chunk) >= 1024 else (tail + chunk)[-1024:]
                sink.write(compressor.compress(chunk))
            sink.write(compressor.flush())
        if tail != _END_OF_TAR:
            raise InfrastructureError(
                f"the archive of {data_path} in service {service} ended early ({raw} bytes, no end "
                "of tar): the snapshot was not saved",
                hint="check the engine (`docker info`) and the container's state; the next run tries again",
            )
        info = ArchiveInfo(name, data_path, sink.sha256, sink.size, raw)
        self.archives[service] = info
        return info

    def commit(self, *, identity: Mapping[str, Any], migrations: Sequence[tuple[str, str]]) -> Manifest:
        """Put the entry in place, replacing the key's; with the other services' archives of the
        replaced one if it holds the same identity at the same migrations (a stack with two
        postgres services is captured one service at a time into one manifest)."""
        now = time.time()
        as_stored = json.loads(json.dumps(dict(identity)))  # what `find` returns: lists, not tuples
        applied = tuple((n, s) for n, s in migrations)
        self._adopt(as_stored, applied)
        manifest = Manifest(self.key, as_stored, applied, dict(self.archives), now, now, __version__)
        with Sink(self.directory / MANIFEST, f"snapshot {self.key}") as sink:
            sink.write(encode(manifest))
        place(self.directory, entry_dir(self.key))
        return manifest

    def _adopt(self, identity: Mapping[str, Any], migrations: tuple[tuple[str, str], ...]) -> None:
        current = entry_dir(self.key)
        try:
            previous = verify(current, self.key)
        except (Unusable, OSError):
            return  # none, or damaged: replaced whole
        if (previous.identity, previous.migrations) != (identity, migrations):
            return
        for service, info in previous.archives.items():
            if service not in self.archives:
                try:  # a hard link: the replaced entry's removal leaves this file as it was verified
                    os.link(current / info.file, self.directory / info.file)
                except OSError:
                    return  # gone meanwhile: this entry holds only what this capture took
                self.archives[service] = info


@contextlib.contextmanager
def writing(key: str) -> Iterator[Entry]:
    """An `Entry` whose work directory is gone afterwards, committed or not (an error, a signal)."""
    with work_dir(f"snapshot {key}", entry_dir(key)) as directory:
        yield Entry(key, directory)


@contextlib.contextmanager
def work_dir(what: str, final: Path) -> Iterator[Path]:
    """A hidden directory beside the entries (same filesystem: renamed into place whole)."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        directory = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    except OSError as exc:
        raise unwritable(what, final, exc) from None
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)  # gone already once committed


def place(work: Path, final: Path) -> None:
    """Rename `work` to `final`, replacing an entry of the same key (never merging into it)."""
    for _ in range(3):
        try:
            os.rename(work, final)
            return
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise unwritable(f"snapshot {final.name}", final, exc) from None
        remove(final)
    raise InfrastructureError(f"snapshot {final.name}: {final} keeps being replaced by another process")


def remove(directory: Path) -> None:
    """Rename away first, so a reader sees the entry whole or not at all, then delete."""
    trash = directory.with_name(f".trash-{directory.name}-{secrets.token_hex(4)}")
    try:
        os.rename(directory, trash)
    except OSError:
        return  # already gone (a concurrent prune or replace)
    shutil.rmtree(trash, ignore_errors=True)
