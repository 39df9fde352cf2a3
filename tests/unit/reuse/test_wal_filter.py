"""A snapshot keeps only the WAL that crash recovery reads: the redo point's segment to the one
after the current, and every other file exactly as it came (owner, mode, content)."""

from __future__ import annotations

import io
import tarfile

from ci_toolkit.reuse.wal_filter import next_segment, without_old_wal


def data_dir_tar(names: list[str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name in names:
            body = name.encode() * 100
            info = tarfile.TarInfo(name)
            info.size, info.uid, info.mode = len(body), 999, 0o600
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


def test_only_the_segments_recovery_reads_are_kept() -> None:
    segments = [f"00000001000000000000000{i:X}" for i in range(1, 10)]
    names = ["data/PG_VERSION", "data/base/1/1259", "data/postmaster.pid"]
    names += [f"data/pg_wal/{s}" for s in segments] + ["data/pg_wal/archive_status/x.done"]
    raw = data_dir_tar(names)
    chunks = [raw[i : i + 3000] for i in range(0, len(raw), 3000)]  # the engine's stream, in pieces
    filtered = b"".join(without_old_wal(chunks, segments[2], segments[4]))
    with tarfile.open(fileobj=io.BytesIO(filtered)) as tar:
        kept = {m.name: (m.uid, m.mode, tar.extractfile(m).read()) for m in tar}  # type: ignore[union-attr]
    assert sorted(kept) == sorted(
        ["data/PG_VERSION", "data/base/1/1259", "data/pg_wal/archive_status/x.done"]
        + [f"data/pg_wal/{s}" for s in segments[2:6]]  # redo .. current, and the next
    )
    assert kept["data/base/1/1259"] == (999, 0o600, b"data/base/1/1259" * 100)
    assert filtered.endswith(b"\0" * 1024)  # a complete tar


def test_the_next_segment_rolls_over_the_log_number() -> None:
    assert next_segment("0000000100000000000000FF") == "000000010000000100000000"
    assert next_segment("000000010000000000000009") == "00000001000000000000000A"
