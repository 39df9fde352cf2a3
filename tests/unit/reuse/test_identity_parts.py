"""The identity's file and config parts: what compose reads from the host (build contexts,
bind-mount sources) and the ci-toolkit settings that shape the stack's data. Each change is
named; what cannot be fingerprinted is never reused; nothing that is not input counts."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ci_toolkit.reuse import fingerprint, identity
from ci_toolkit.reuse.identity import Identity

CONFIG = {"migrations": {"dsn": "postgresql://{user}@{host}:{port}/app", "table": "m", "directory": "db"}}


class NoEngine:
    class api:  # stands for the SDK client; the models here name no image
        pass


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project as compose sees it: an app built from ./app, ./initdb bind-mounted into
    Postgres, and ci-toolkit running from the project directory."""
    (tmp_path / "app" / "src").mkdir(parents=True)
    (tmp_path / "app" / "Dockerfile").write_text("FROM python:3.12\nCOPY src /src\n")
    (tmp_path / "app" / "src" / "main.py").write_text("print('v1')\n")
    (tmp_path / "initdb").mkdir()
    (tmp_path / "initdb" / "01_schema.sql").write_text("CREATE TABLE t (id int);\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def model_of(root: Path, **extra_services: Mapping[str, Any]) -> dict[str, Any]:
    """What `docker compose config --format json` gives for the project: absolute paths."""
    return {
        "name": "citk-p1",
        "services": {
            "app": {"build": {"context": str(root / "app"), "dockerfile": "Dockerfile"}},
            "db": {
                "volumes": [
                    {"type": "bind", "source": str(root / "initdb"), "target": "/docker-entrypoint-initdb.d"},
                    {"type": "volume", "source": "pgdata", "target": "/var/lib/postgresql/data"},
                    {"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock"},
                ]
            },
            **extra_services,
        },
    }


def ident(root: Path, config: Mapping[str, Any] = CONFIG, **kw: Any) -> Identity:
    return identity.compute(model_of(root), NoEngine(), [], {}, config=config, salt="s", **kw)  # type: ignore[arg-type]


def test_an_unchanged_project_has_the_same_key_and_each_changed_source_is_named(project: Path) -> None:
    old = ident(project)
    assert sorted(old.files) == [f"bind:{project / 'initdb'}", f"build:{project / 'app'}"]  # not docker.sock
    assert ident(project).key == old.key and ident(project).changes(old) == []

    (project / "app" / "src" / "main.py").write_text("print('v2')\n")
    (project / "initdb" / "02_seed.sql").write_text("INSERT INTO t VALUES (1);\n")
    new = ident(project)
    assert new.changes(old) == ["bind mount ./initdb changed", "build context ./app changed"]
    assert new.key != old.key and new.base_key != old.base_key  # files are in the snapshot key too


def test_a_touched_file_with_the_same_content_keeps_the_key(project: Path) -> None:
    """Small files count by content, not mtime: a fresh CI checkout (new mtimes, same bytes)
    must find the snapshot an earlier runner saved."""
    old = ident(project)
    main = project / "app" / "src" / "main.py"
    os.utime(main, ns=(main.stat().st_atime_ns, main.stat().st_mtime_ns + 10**9))
    main.write_text("print('v1')\n")  # rewritten, same bytes
    assert ident(project).key == old.key


def test_a_big_file_counts_by_size_and_mtime_unread(project: Path) -> None:
    big = project / "app" / "model.bin"
    big.write_bytes(b"\0" * identity.HASHED_BELOW)
    old = ident(project)
    os.utime(big, ns=(big.stat().st_atime_ns, big.stat().st_mtime_ns + 10**9))
    assert ident(project).changes(old) == ["build context ./app changed"]


def test_the_executable_bit_and_a_link_target_count(project: Path) -> None:
    entry = project / "app" / "entrypoint.sh"
    entry.write_text("#!/bin/sh\n")
    (project / "app" / "current").symlink_to("src")
    old = ident(project)
    entry.chmod(0o755)
    after_chmod = ident(project)
    assert after_chmod.changes(old) == ["build context ./app changed"]
    (project / "app" / "current").unlink()
    (project / "app" / "current").symlink_to("Dockerfile")
    assert ident(project).changes(after_chmod) == ["build context ./app changed"]


def test_caches_vcs_and_the_artifacts_directory_do_not_count(project: Path) -> None:
    old = ident(project, skip_dirs=[project / "app" / "out"])
    for volatile in (".git", "__pycache__", "node_modules", ".venv", ".pytest_cache", "ci-artifacts", "out"):
        (project / "app" / volatile).mkdir()
        (project / "app" / volatile / "x").write_text(uuid.uuid4().hex)
    assert ident(project, skip_dirs=[project / "app" / "out"]).key == old.key


def test_a_source_inside_the_artifacts_directory_is_output_not_input(project: Path) -> None:
    (project / "ci-artifacts" / "run1").mkdir(parents=True)
    model = model_of(
        project, collector={"volumes": [{"type": "bind", "source": str(project / "ci-artifacts" / "run1")}]}
    )
    files = identity.file_digests(model, skip_dirs=[project / "ci-artifacts"])
    assert f"bind:{project / 'ci-artifacts' / 'run1'}" not in files and len(files) == 2


def test_a_missing_bind_source_digests_as_the_empty_directory_compose_creates(project: Path) -> None:
    assert identity.fingerprint(str(project / "not-yet")) == identity.fingerprint(
        str((project / "empty").mkdir() or project / "empty")
    )


def test_a_bind_mounted_file_configs_and_secrets_and_an_outside_dockerfile_count(project: Path) -> None:
    (project / "nats.conf").write_text("port: 4222\n")
    (project / "Dockerfile.app").write_text("FROM python:3.12\n")
    model = model_of(
        project,
        nats={"volumes": [{"type": "bind", "source": str(project / "nats.conf"), "target": "/nats.conf"}]},
        web={"build": {"context": str(project / "app"), "dockerfile": "../Dockerfile.app"}},
    )
    model["configs"] = {"cfg": {"file": str(project / "nats.conf")}}
    model["secrets"] = {"token": {"file": str(project / "token.txt")}}
    old = identity.compute(model, NoEngine(), [], {}, config=CONFIG)  # type: ignore[arg-type]
    (project / "nats.conf").write_text("port: 4223\n")
    (project / "Dockerfile.app").write_text("FROM python:3.13\n")
    (project / "token.txt").write_text("t0k3n\n")
    new = identity.compute(model, NoEngine(), [], {}, config=CONFIG)  # type: ignore[arg-type]
    assert new.changes(old) == [
        "bind mount ./nats.conf changed",
        "bind mount ./token.txt changed",
        "Dockerfile ./Dockerfile.app changed",
    ]


def test_a_source_added_or_no_longer_used_is_named(project: Path) -> None:
    old = ident(project)
    model = model_of(project)
    del model["services"]["app"]
    model["services"]["db"]["volumes"].append({"type": "bind", "source": str(project / "conf")})
    new = identity.compute(model, NoEngine(), [], {}, config=CONFIG, salt="s")  # type: ignore[arg-type]
    assert new.changes(old)[1:] == ["bind mount ./conf added", "build context ./app no longer used"]


def test_a_context_too_large_to_fingerprint_is_never_reused(project: Path) -> None:
    """The real cap: 20,001 files. Beyond it the part is "unhashable:<source>" and the key never
    matches, not even the key of the same tree computed again."""
    big = project / "app" / "vendor"
    big.mkdir()
    for n in range(identity.MAX_ENTRIES):
        (big / f"f{n}").touch()
    old = ident(project)
    assert old.files[f"build:{project / 'app'}"] == f"unhashable:{project / 'app'}"
    assert old.unfingerprinted == [f"build:{project / 'app'}"]
    again = ident(project)
    assert again.key != old.key and again.base_key != old.base_key
    assert again.changes(old) == [
        "the build context ./app is too large to fingerprint (over 20000 files or 500 MB); not reused"
    ]
    assert Identity.from_dict(old.to_dict()).key == old.key  # the record keeps its own key


def test_the_read_cap_counts_bytes_actually_read(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprint, "MAX_READ", 1000)  # 500 MB of fixtures is no unit test
    (project / "initdb" / "big.sql").write_bytes(b"-" * 999)
    assert ident(project).files[f"bind:{project / 'initdb'}"] == f"unhashable:{project / 'initdb'}"
    (project / "initdb" / "big.sql").write_bytes(b"-" * 900)
    assert not ident(project).unfingerprinted


def test_a_remote_build_context_is_never_reused(project: Path) -> None:
    remote = "https://github.com/example/app.git#main"
    model = {"services": {"app": {"build": {"context": remote, "dockerfile": "Dockerfile"}}}}
    old = identity.compute(model, NoEngine(), [], {}, config={})  # type: ignore[arg-type]
    again = identity.compute(model, NoEngine(), [], {}, config={})  # type: ignore[arg-type]
    assert again.key != old.key
    assert again.changes(old) == [
        f"the build context {remote} is not on this machine, so it cannot be fingerprinted; not reused"
    ]


def test_a_bind_mounted_fifo_is_never_opened(project: Path) -> None:
    fifo = project / "events.fifo"
    os.mkfifo(fifo)
    (project / "initdb" / "pipe").symlink_to(fifo)
    os.mkfifo(project / "initdb" / "local.fifo")
    assert identity.fingerprint(str(fifo)) == identity.fingerprint(str(fifo))  # would block if opened
    assert not identity.fingerprint(str(project / "initdb")).startswith("unreadable:")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a mode-000 directory")
def test_an_unreadable_source_is_never_reused(project: Path) -> None:
    locked = project / "initdb" / "locked"
    locked.mkdir(mode=0)
    try:
        old = ident(project)
        assert old.key != ident(project).key
        assert ident(project).changes(old) == [
            "the bind mount ./initdb cannot be read to fingerprint it; not reused"
        ]
    finally:
        locked.chmod(0o700)


def test_the_config_part_is_named_and_in_both_keys(project: Path) -> None:
    old = ident(project)
    moved = {"migrations": {**CONFIG["migrations"], "dsn": "postgresql://{user}@{host}:{port}/other"}}
    new = ident(project, config=moved)
    assert new.changes(old) == ["the ci-toolkit config (migrations, services or exports) changed"]
    assert new.key != old.key and new.base_key != old.base_key
    checks = {"services": [{"name": "postgres", "kind": "postgres", "database": "app"}]}
    assert ident(project, config=checks).key != ident(project, config={**checks, "services": []}).key


def test_an_old_record_without_files_or_config_loads_and_compares_as_changed(project: Path) -> None:
    new = ident(project)
    record = new.to_dict()
    for part in ("files", "config", "nonce"):
        del record[part]
    old = Identity.from_dict(record)
    assert old.files == {} and old.config == ""
    assert old.key != new.key
    assert new.changes(old) == [
        "bind mount ./initdb added",
        "build context ./app added",
        "the record was made by a ci-toolkit that did not fingerprint files and config",
    ]


def test_public_dict_has_no_salt_and_no_per_variable_digests(project: Path) -> None:
    full = identity.compute(model_of(project), NoEngine(), [], {"PGPASSWORD": "pw"}, config=CONFIG)  # type: ignore[arg-type]
    public = full.public_dict()
    assert "salt" not in public and "env" not in public
    assert (
        public["key"] == full.key and public["files"] == dict(full.files) and public["config"] == full.config
    )
    assert public["env_digest"] == full.env_digest
    assert Identity.from_dict(full.to_dict()) == full


def test_absent_images_are_listed() -> None:
    found = Identity(
        "c",
        {"postgres:15": "sha256:aaaa", "ghcr.io/x/api:1": identity.ABSENT, "redis:7": "absent"},
        (),
        {},
        "e",
    )
    assert identity.absent_images(found) == ["ghcr.io/x/api:1", "redis:7"]
    assert identity.absent_images(Identity("c", {"postgres:15": "sha256:aaaa"}, (), {}, "e")) == []
