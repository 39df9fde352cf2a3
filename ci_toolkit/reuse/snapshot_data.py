"""A Postgres data directory into a snapshot and back, through the Docker engine.

Capture: `CHECKPOINT` (less WAL to replay later), `docker pause`, the data directory as a tar
from the engine, `docker unpause` (always). A frozen postgres's files are a crash-consistent
image: started from it, postgres runs crash recovery from that checkpoint (seconds at most)
instead of initdb and the migrations.

Restore: into the created, never started, container of the same service; the engine extracts
the stored gzip tar itself and keeps the owners and modes in its headers (postgres refuses a data
directory it does not own or that is not 0700).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from ci_toolkit.config import ServiceCheck
from ci_toolkit.errors import CiToolkitError, InfrastructureError
from ci_toolkit.reuse.snapshot_entry import Manifest, digest_of, writing
from ci_toolkit.reuse.wal_filter import without_old_wal
from ci_toolkit.stack.engine import ContainerState, Engine, connection_lost, lost

DEFAULT_DATA_PATH = "/var/lib/postgresql/data"  # the postgres image's PGDATA


def capture(
    engine: Engine,
    project: str,
    service: str,
    check: ServiceCheck,
    host: str,
    host_port: int,
    *,
    key: str,
    identity: Mapping[str, Any],
    migrations: Sequence[tuple[str, str]],
    timeout: float,
) -> Manifest:
    """Snapshot the running postgres `service` of `project` under `key`; its manifest."""
    deadline = time.monotonic() + timeout
    container = _container(engine, project, service, "running")
    data_path = data_directory(engine, container.id)
    wal = _checkpoint(service, check, host, host_port, timeout)
    with writing(key) as entry:
        _call("pause the container", service, data_path, engine.pause, container.id)
        try:
            chunks = _call(
                "archive the data", service, data_path, engine.get_archive, container.id, data_path
            )
            try:
                stream = _until(deadline, chunks, service, data_path)
                entry.add_archive(service, data_path, without_old_wal(stream, *wal) if wal else stream)
            finally:
                chunks.close()  # an unfinished archive holds the container's lock: unpause would wait
        finally:
            _call("unpause the container", service, data_path, engine.unpause, container.id)
        return entry.commit(identity=identity, migrations=migrations)


def restore(engine: Engine, project: str, service: str, manifest: Manifest) -> float:
    """Load the snapshot's data directory into the created container of `service`; seconds taken."""
    started = time.monotonic()
    if service not in manifest.archives:
        raise InfrastructureError(
            f"snapshot {manifest.key} has no archive of service {service} "
            f"(it has: {', '.join(manifest.archives) or 'none'})",
            hint="the snapshot key should cover the compose model; start fresh",
        )
    info = manifest.archives[service]
    container = _container(engine, project, service, "created")
    data_path = data_directory(engine, container.id)
    if data_path != info.data_path:
        raise InfrastructureError(
            f"service {service} keeps its data in {data_path}, the snapshot {manifest.key} in "
            f"{info.data_path}",
            hint="PGDATA changed without a new snapshot key; start fresh",
        )
    version_file = f"{data_path}/PG_VERSION"  # what the entrypoint looks for to skip initdb
    if _call("look for a database", service, data_path, engine.exists, container.id, version_file):
        raise InfrastructureError(
            f"service {service} already has a database in {data_path} (its volume is not new)",
            hint=f"remove the old volume (`docker compose -p {project} down --volumes`) or start fresh",
        )
    parent = str(PurePosixPath(data_path).parent)  # the tar's top entry is the data dir itself
    with verified_archive(manifest, service) as archive:
        _call("extract the archive", service, data_path, engine.put_archive, container.id, parent, archive)
    return time.monotonic() - started


def verified_archive(manifest: Manifest, service: str) -> BinaryIO:
    """The open archive of `service`, checked again just before use (it is never rewritten in
    place: a replaced or pruned entry leaves this open file as it was verified)."""
    info, path = manifest.archives[service], manifest.archive_path(service)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InfrastructureError(
            f"snapshot {manifest.key}: the archive of {service} ({path}) cannot be opened: {exc.strerror}",
            hint="the snapshot was removed meanwhile (a prune?); start fresh",
        ) from None
    if digest_of(handle) != (info.bytes, info.sha256):
        handle.close()
        raise InfrastructureError(
            f"snapshot {manifest.key}: the archive of {service} ({path}) changed since it was verified",
            hint="another process replaced or damaged it; nothing was restored, start fresh",
        )
    handle.seek(0)
    return handle


def data_directory(engine: Engine, container_id: str) -> str:
    return engine.env(container_id).get("PGDATA") or DEFAULT_DATA_PATH


def _container(engine: Engine, project: str, service: str, status: str) -> ContainerState:
    found = [c for c in engine.containers(project) if c.service == service]
    if len(found) != 1 or found[0].status != status:
        states = ", ".join(f"{c.name}: {c.status}" for c in found) or "no container"
        when = "started" if status == "running" else "created and not yet started"
        raise InfrastructureError(
            f"service {service} of project {project} must have one {status} container for a "
            f"snapshot ({states})",
            hint=f"a snapshot is {'taken' if status == 'running' else 'loaded'} once the container is {when}",
        )
    return found[0]


def _checkpoint(
    service: str, check: ServiceCheck, host: str, port: int, timeout: float
) -> tuple[str, str] | None:
    """CHECKPOINT; then the WAL segments recovery will read from (the redo point's) and to (the
    current one), or None when the server does not say (then all of pg_wal is kept)."""
    import psycopg  # heavy; only needed when capturing

    try:
        with psycopg.connect(
            host=host, port=port, user=check.user, password=check.password, dbname=check.database,
            connect_timeout=max(1, round(timeout)), autocommit=True,
            options=f"-c statement_timeout={max(1, round(timeout * 1000))}",
        ) as conn:  # fmt: skip
            conn.execute("CHECKPOINT")
            return _wal_range(conn)
    except psycopg.errors.InsufficientPrivilege:
        return None  # not a superuser (nor pg_checkpoint): as consistent, recovery replays more WAL
    except psycopg.Error as exc:
        raise InfrastructureError(
            f"cannot run CHECKPOINT on service {service} at {host}:{port} before its snapshot: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}",
            hint="is the database up and are the credentials in the config right?",
        ) from None


def _wal_range(conn: Any) -> tuple[str, str] | None:
    import psycopg

    try:
        row = conn.execute(
            "SELECT pg_walfile_name(redo_lsn), pg_walfile_name(pg_current_wal_lsn()) "
            "FROM pg_control_checkpoint()"
        ).fetchone()
    except psycopg.Error:
        return None  # not allowed to ask: every segment is kept
    return (str(row[0]), str(row[1])) if row and row[0] and row[1] else None


def _until(deadline: float, chunks: Iterable[bytes], service: str, path: str) -> Iterator[bytes]:
    """The engine's tar stream, bounded by the capture's deadline; its failures named."""
    stream = iter(chunks)
    while True:
        chunk = _call("archive the data", service, path, next, stream, None)
        if chunk is None:
            return
        if time.monotonic() > deadline:
            raise InfrastructureError(
                f"the snapshot of {path} in service {service} took longer than its timeout",
                hint="nothing was kept; a bigger data directory needs a longer timeout",
            )
        yield chunk


def _call(what: str, service: str, path: str, method: Any, *args: Any) -> Any:
    """One engine call; its refusal as an InfrastructureError naming the service and path."""
    try:
        return method(*args)
    except CiToolkitError:
        raise
    except Exception as exc:
        if connection_lost(exc):
            raise lost(exc) from None
        reason = getattr(exc, "explanation", None) or str(exc) or type(exc).__name__
        raise InfrastructureError(
            f"the engine could not {what} for the snapshot of {path} in service {service}: {reason}",
            hint="check the container (`docker ps -a`, `docker logs`) and the engine (`docker info`)",
        ) from None
