"""What a stack is made of, as one key: a lease is reused, and a snapshot loaded, only for an
identical stack.

The identity has seven parts — the rendered compose model, the image IDs, the migration files'
checksums, the environment that reaches compose, the files compose reads from the host (build
contexts and bind-mount sources), the ci-toolkit config that shapes the stack's data, and
ci-toolkit's version — and `changes()` names the part that differs between two identities (never
a value: an environment variable is named, its value only ever enters a hash).

`key` covers every part (a lease's key, and the exact cache key); `base_key` leaves the
migrations out: a snapshot made before a new migration file still serves as the starting point,
and the new file is applied on top.

Files are fingerprinted by content, not by time: a file under 1 MiB enters as its path, size,
executable bit and sha256, so a fresh checkout or a `touch` keeps the key (a CI runner's checkout
gets new mtimes every time, and the snapshot key must match across runners); a bigger file enters
as its size and mtime, unread. A source that cannot be fingerprinted (too big, unreadable, remote)
gets a random `nonce` in the key, so such a stack is never reused: stale is worse than cold.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_toolkit import __version__
from ci_toolkit.errors import InfrastructureError
from ci_toolkit.reuse.fingerprint import (  # noqa: F401 - part of this module's interface
    HASHED_BELOW,
    MAX_ENTRIES,
    MAX_READ,
    SKIPPED_DIRS,
    file_digests,
    file_sources,
    fingerprint,
    is_local,
)
from ci_toolkit.reuse.paths import state_root

if TYPE_CHECKING:
    from ci_toolkit.stack.engine import Engine

KEY_PREFIX = "citk-stack"
ABSENT = "absent"  # the image ID of an image the engine does not have (yet)
KINDS = {"build": "build context", "dockerfile": "Dockerfile", "bind": "bind mount"}
UNFINGERPRINTED = {  # value prefix -> why
    "unhashable": f"is too large to fingerprint (over {MAX_ENTRIES} files or {MAX_READ >> 20} MB)",
    "unreadable": "cannot be read to fingerprint it",
    "remote": "is not on this machine, so it cannot be fingerprinted",
}


@dataclass(frozen=True)
class Identity:
    compose: str  # sha256 of the model `docker compose config` renders, without the project name
    images: Mapping[str, str]  # image reference -> image ID
    migrations: tuple[tuple[str, str], ...]  # (file name, sha256), in order
    env: Mapping[str, str]  # variable name -> salted digest of its value (the salt never leaves the record)
    env_digest: str  # unsalted digest of all the variables: the same on every machine, for cache keys
    files: Mapping[str, str] = field(default_factory=dict)  # "kind:/abs/path" -> digest, or "why:path"
    config: str = ""  # digest of the ci-toolkit settings the caller passed ("": a record made before it)
    version: str = __version__
    salt: str = field(default="", compare=False)
    nonce: str = ""  # random when a file source could not be fingerprinted: the key then matches nothing

    @property
    def base_key(self) -> str:
        """Everything but the migrations: what a snapshot is stored under."""
        parts: dict[str, Any] = {
            "compose": self.compose,
            "images": dict(self.images),
            "env": self.env_digest,
            "files": dict(self.files),
            "config": self.config,
            "v": self.version,
        }
        if self.nonce:
            parts["nonce"] = self.nonce
        return _digest(parts)

    @property
    def migrations_key(self) -> str:
        return _digest([list(m) for m in self.migrations])

    @property
    def key(self) -> str:
        """`citk-stack-<base>-<migrations>`: the base is a prefix, so a cache restore-key can match a
        snapshot made before the newest migration file."""
        return f"{KEY_PREFIX}-{self.base_key}-{self.migrations_key}"

    @property
    def unfingerprinted(self) -> list[str]:
        """The file sources that make this stack never reusable (its key matches no other)."""
        return [source for source, value in sorted(self.files.items()) if _why(value)]

    def changes(self, old: Identity) -> list[str]:
        """What differs from `old`, one short line per difference, naming (never showing) values."""
        found: list[str] = []
        if old.version != self.version:
            found.append(f"ci-toolkit {old.version} -> {self.version}")
        if old.compose != self.compose:
            found.append("the compose model (a compose file, or a variable it interpolates, changed)")
        for ref in sorted(set(old.images) | set(self.images)):
            before, now = old.images.get(ref), self.images.get(ref)
            if before != now:
                if before is None or now is None:
                    found.append(f"image {ref} {'added' if before is None else 'no longer used'}")
                else:
                    found.append(f"image {ref} is now {_short(now)} (was {_short(before)})")
        found.extend(_file_changes(old.files, self.files))
        if old.config != self.config:
            found.append(
                "the ci-toolkit config (migrations, services or exports) changed"
                if old.config
                else "the record was made by a ci-toolkit that did not fingerprint files and config"
            )
        found.extend(_migration_changes(old.migrations, self.migrations))
        if old.env_digest != self.env_digest:
            same_salt = old.salt == self.salt
            names = sorted(
                n for n in set(old.env) | set(self.env) if not same_salt or old.env.get(n) != self.env.get(n)
            )
            found.append(
                "environment: "
                + (", ".join(names) if same_salt and names else "a variable reaching compose changed")
            )
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "compose": self.compose,
            "images": dict(self.images),
            "migrations": [list(m) for m in self.migrations],
            "env": dict(self.env),
            "env_digest": self.env_digest,
            "files": dict(self.files),
            "config": self.config,
            "version": self.version,
            "salt": self.salt,
            "nonce": self.nonce,
        }

    def public_dict(self) -> dict[str, Any]:
        """`to_dict` for manifests and `snapshot key --json`: no salt, and no per-variable digests
        (useful only next to their salt)."""
        data = self.to_dict()
        del data["salt"], data["env"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Identity:
        """A record; one made before files and config were fingerprinted gets "" for them, so it
        compares as changed (its lease is replaced once)."""
        return cls(
            compose=str(data["compose"]),
            images={str(k): str(v) for k, v in data["images"].items()},
            migrations=tuple((str(n), str(c)) for n, c in data["migrations"]),
            env={str(k): str(v) for k, v in data["env"].items()},
            env_digest=str(data["env_digest"]),
            files={str(k): str(v) for k, v in (data.get("files") or {}).items()},
            config=str(data.get("config", "")),
            version=str(data["version"]),
            salt=str(data.get("salt", "")),
            nonce=str(data.get("nonce", "")),
        )


def compute(
    model: Mapping[str, Any],
    engine: Engine,
    migrations: Sequence[tuple[str, str]],
    env: Mapping[str, str],
    *,
    config: Mapping[str, Any],
    salt: str | None = None,
    skip_dirs: Collection[Path] = (),
) -> Identity:
    """The identity of the stack `model` describes, with images as the engine has them now and
    files as they are on disk now. `config`: the ci-toolkit settings that shape the stack's data
    (JSON-able; only its digest is kept). `skip_dirs`: directories never fingerprinted (the
    artifacts directory; the state directory always is)."""
    salt = salt if salt is not None else secrets.token_hex(8)
    rendered = {k: v for k, v in model.items() if k != "name"}  # the project name differs per run
    files = file_digests(model, skip_dirs=(*skip_dirs, state_root()))
    return Identity(
        compose=_digest(rendered),
        images=image_ids(engine, model),
        migrations=tuple(migrations),
        env={name: _digest([salt, name, value])[:16] for name, value in sorted(env.items())},
        env_digest=_digest(sorted(env.items())),
        files=files,
        config=_digest(dict(config)),
        salt=salt,
        nonce=secrets.token_hex(8) if any(_why(v) for v in files.values()) else "",
    )


def image_ids(engine: Engine, model: Mapping[str, Any]) -> dict[str, str]:
    """The ID of every image the model names (a re-tagged image changes the identity)."""
    import docker.errors

    refs = sorted({str(s["image"]) for s in (model.get("services") or {}).values() if s.get("image")})
    found = {}
    for ref in refs:
        try:
            found[ref] = str(engine.api.inspect_image(ref)["Id"])
        except docker.errors.ImageNotFound:
            found[ref] = ABSENT  # pull it (`compose.pull`) and compute again, or `up` changes the identity
        except docker.errors.APIError as exc:
            raise InfrastructureError(f"cannot inspect image {ref}: {exc.explanation or exc}") from None
    return found


def absent_images(identity: Identity) -> list[str]:
    """The image references the engine did not have when `identity` was computed."""
    return sorted(ref for ref, image_id in identity.images.items() if image_id == ABSENT)


def _file_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    lines = []
    for source in sorted(set(old) | set(new)):
        before, now = old.get(source), new.get(source)
        kind, _, path = source.partition(":")
        what = f"{KINDS.get(kind, kind)} {_shown(path)}"
        if now is not None and _why(now):
            lines.append(f"the {what} {_why(now)}; not reused")
        elif before != now:
            lines.append(
                f"{what} {'added' if before is None else 'no longer used' if now is None else 'changed'}"
            )
    return lines


def _migration_changes(old: Sequence[tuple[str, str]], new: Sequence[tuple[str, str]]) -> list[str]:
    before, now = dict(old), dict(new)
    lines = [f"migration {n} added" for n in now if n not in before]
    lines += [f"migration {n} removed" for n in before if n not in now]
    lines += [f"migration {n} changed" for n in now if n in before and before[n] != now[n]]
    return lines


def _why(value: str) -> str:
    prefix, sep, _ = value.partition(":")
    return UNFINGERPRINTED.get(prefix, "") if sep else ""


def _shown(path: str) -> str:
    """A path as the user wrote it, more or less: relative to the working directory when inside it."""
    if not is_local(path):
        return path
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else "." if rel == "." else f"./{rel}"


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
