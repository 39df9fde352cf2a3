"""What a stack is made of, as one key: a lease is reused, and a snapshot loaded, only for an
identical stack.

The identity has five parts — the rendered compose model, the image IDs, the migration files'
checksums, the environment that reaches compose, and ci-toolkit's version — and `changes()`
names the part that differs between two identities (never a value: an environment variable is
named, its value only ever enters a hash).

`key` covers all five parts (a lease's key, and the exact cache key); `base_key` leaves the
migrations out: a snapshot made before a new migration file still serves as the starting point,
and the new file is applied on top.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ci_toolkit import __version__
from ci_toolkit.errors import InfrastructureError

if TYPE_CHECKING:
    from ci_toolkit.stack.engine import Engine

KEY_PREFIX = "citk-stack"


@dataclass(frozen=True)
class Identity:
    compose: str  # sha256 of the model `docker compose config` renders, without the project name
    images: Mapping[str, str]  # image reference -> image ID
    migrations: tuple[tuple[str, str], ...]  # (file name, sha256), in order
    env: Mapping[str, str]  # variable name -> salted digest of its value (the salt never leaves the record)
    env_digest: str  # unsalted digest of all the variables: the same on every machine, for cache keys
    version: str = __version__
    salt: str = field(default="", compare=False)

    @property
    def base_key(self) -> str:
        """Everything but the migrations: what a snapshot is stored under."""
        return _digest(
            {"compose": self.compose, "images": dict(self.images), "env": self.env_digest, "v": self.version}
        )

    @property
    def migrations_key(self) -> str:
        return _digest([list(m) for m in self.migrations])

    @property
    def key(self) -> str:
        """`citk-stack-<base>-<migrations>`: the base is a prefix, so a cache restore-key can match a
        snapshot made before the newest migration file."""
        return f"{KEY_PREFIX}-{self.base_key}-{self.migrations_key}"

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
            "version": self.version,
            "salt": self.salt,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Identity:
        return cls(
            compose=str(data["compose"]),
            images={str(k): str(v) for k, v in data["images"].items()},
            migrations=tuple((str(n), str(c)) for n, c in data["migrations"]),
            env={str(k): str(v) for k, v in data["env"].items()},
            env_digest=str(data["env_digest"]),
            version=str(data["version"]),
            salt=str(data.get("salt", "")),
        )


def compute(
    model: Mapping[str, Any],
    engine: Engine,
    migrations: Sequence[tuple[str, str]],
    env: Mapping[str, str],
    *,
    salt: str | None = None,
) -> Identity:
    """The identity of the stack `model` describes, with images as the engine has them now."""
    salt = salt if salt is not None else secrets.token_hex(8)
    rendered = {k: v for k, v in model.items() if k != "name"}  # the project name differs per run
    return Identity(
        compose=_digest(rendered),
        images=image_ids(engine, model),
        migrations=tuple(migrations),
        env={name: _digest([salt, name, value])[:16] for name, value in sorted(env.items())},
        env_digest=_digest(sorted(env.items())),
        salt=salt,
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
            found[ref] = "absent"  # compose pulls or builds it at `up`; the next identity will differ
        except docker.errors.APIError as exc:
            raise InfrastructureError(f"cannot inspect image {ref}: {exc.explanation or exc}") from None
    return found


def _migration_changes(old: Sequence[tuple[str, str]], new: Sequence[tuple[str, str]]) -> list[str]:
    before, now = dict(old), dict(new)
    lines = [f"migration {n} added" for n in now if n not in before]
    lines += [f"migration {n} removed" for n in before if n not in now]
    lines += [f"migration {n} changed" for n in now if n in before and before[n] != now[n]]
    return lines


def _short(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
