"""The steps' side of snapshots (`--snapshot`): start a cold stack from the migrated data of an
earlier run with the same identity, and save it after migrations when there was none (or when
new migration files were applied on top).

A snapshot is stored under the identity's `base_key` (everything but the migrations) and records
which migration files it holds. It is used only if those files are still the first ones, byte
for byte; the rest are applied by the migrate step as usual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ci_toolkit.pipeline.context import RunContext
from ci_toolkit.pipeline.state import RunState, SnapshotSaved
from ci_toolkit.stack import compose

if TYPE_CHECKING:  # imported where used: a run without --snapshot never loads the archive code
    from ci_toolkit.reuse.identity import Identity
    from ci_toolkit.reuse.snapshot import Manifest


def usable(ctx: RunContext, state: RunState) -> Manifest | None:
    """The stored snapshot for this stack, verified, whose migrations are a prefix of ours."""
    from ci_toolkit.reuse import snapshot

    assert state.identity is not None
    if not _pinned(ctx, state.identity):
        return None
    manifest = snapshot.find(state.identity.base_key, warn=ctx.reporter.warn)
    if manifest is None:
        return None
    ours = state.identity.migrations
    held = tuple(manifest.migrations)
    if ours[: len(held)] != held:
        changed = next(name for i, (name, _) in enumerate(held) if i >= len(ours) or ours[i] != held[i])
        ctx.reporter.warn(
            f"snapshot {manifest.key}: made with migration {changed}, which is no longer the same here; "
            "skipped, starting fresh"
        )
        return None
    if not set(manifest.archives) <= {c.name for c in ctx.config.services if c.kind == "postgres"}:
        ctx.reporter.warn(f"snapshot {manifest.key}: its services do not match this stack's; skipped")
        return None
    return manifest


def load(ctx: RunContext, state: RunState, manifest: Manifest) -> None:
    """Create the containers (not started), then put the snapshot's data into them."""
    from ci_toolkit.reuse import snapshot

    assert state.stack is not None and state.engine is not None
    compose.create(state.stack, timeout=ctx.config.timeouts.up, model=state.model)
    for service in manifest.archives:
        seconds = snapshot.restore(state.engine, ctx.project, service, manifest)
        ctx.reporter.info(f"    {service}: data loaded from snapshot in {seconds:.2f}s")


def save(ctx: RunContext, state: RunState) -> SnapshotSaved:
    if not ctx.options.snapshot or state.warm:
        return SnapshotSaved(
            "skipped: " + ("the lease's stack was reused" if state.warm else "--snapshot not asked")
        )
    if state.identity is not None and not _pinned(ctx, state.identity, say=False):
        return SnapshotSaved("skipped: the stack's identity cannot be pinned (see the warning above)")
    if state.snapshot_used is not None and not state.migrations_applied:
        return SnapshotSaved(f"skipped: started from snapshot {state.snapshot_used}, nothing new applied")
    from ci_toolkit.reuse import snapshot

    assert state.identity is not None and state.engine is not None
    postgres = [c for c in ctx.config.services if c.kind == "postgres" and c.name in state.services]
    if not postgres:
        return SnapshotSaved("skipped: no postgres service to snapshot")
    manifest = None
    for check in postgres:  # one archive per postgres service, in one manifest
        service = state.services[check.name]
        manifest = snapshot.capture(
            state.engine,
            ctx.project,
            check.name,
            check,
            service.host,
            service.ports[check.port],
            key=state.identity.base_key,
            identity=state.identity.public_dict(),  # goes through actions/cache: no salt, no digests
            migrations=state.identity.migrations,
            timeout=ctx.config.timeouts.migrate,
        )
    assert manifest is not None
    return SnapshotSaved(f"saved snapshot {manifest.key}", snapshot_saved=manifest.key)


def _pinned(ctx: RunContext, ident: Identity, *, say: bool = True) -> bool:
    """A snapshot is keyed by what the stack is made of: not for images nobody has yet, nor for
    files too many to fingerprint (the key would pin nothing, or never match)."""
    from ci_toolkit.reuse import identity

    why = [f"image {ref} is not on this machine" for ref in identity.absent_images(ident)]
    why += list(ident.unfingerprinted)
    if why and say:
        ctx.reporter.warn(f"no snapshot for this run: {'; '.join(why)}")
    return not why


def result_info(ctx: RunContext, state: RunState) -> dict[str, Any] | None:
    if not ctx.options.snapshot or state.identity is None:
        return None if not ctx.options.snapshot else {"key": None, "hit": False, "saved": False}
    return {
        "key": state.identity.key,
        "hit": state.snapshot_used is not None,
        "saved": state.snapshot_saved is not None,
    }
