"""The S3 history store against moto's server over HTTP (real boto3, SigV4, pagination): runs
recorded and queried through the CLI, 20 writer processes at once, a writer SIGKILLed in the
middle of its upload, and the buckets it cannot use (missing, denied, unreachable)."""

from __future__ import annotations

import gzip
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.aws_fixtures import MotoServer, clean_env, moto_server, run_toolkit

pytestmark = pytest.mark.integration

TESTS = (
    "tests/test_shop.py::test_checkout",
    "tests/test_shop.py::test_refund",
    "tests/test_shop.py::test_cart",
)


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def bucket(moto: MotoServer) -> str:
    name = f"ci-history-{secrets.token_hex(4)}"
    moto.client("s3").create_bucket(Bucket=name)
    return name


def run_dir(parent: Path, project: str, *, failing: str | None = None, junit: bytes | None = None) -> Path:
    """An artifacts dir as a finished run leaves it: run.json, the plugin's records, JUnit."""
    path = parent / project
    path.mkdir(parents=True)
    outcomes = {t: "failed" if t == failing else "passed" for t in TESTS}
    result = {
        "status": "tests_failed" if failing else "passed",
        "exit_code": 1 if failing else 0,
        "project": project,
        "phases": [
            {"name": "up", "status": "ok", "seconds": 1.5},
            {"name": "ready", "status": "ok", "seconds": 2.0},
            {"name": "test", "status": "ok", "seconds": 3.25},
        ],
        "tests": {"passed": 3 - bool(failing), "failed": int(bool(failing)), "errors": 0, "skipped": 0},
        "failed_tests": [{"id": failing, "file": None, "line": None, "message": "boom\nmore"}]
        if failing
        else [],
        "flaky_tests": [],
        "coverage_percent": 84.5,
    }
    (path / "run.json").write_text(json.dumps(result))
    (path / "progress.tsv").write_text("".join(f"{o}\t{t}\n" for t, o in outcomes.items()))
    (path / "phases.tsv").write_text("".join(f"call\t{0.1 * (i + 1)}\t{t}\n" for i, t in enumerate(TESTS)))
    (path / "junit.xml").write_bytes(junit if junit is not None else b"<testsuites/>")
    return path


def stamped(run: Path, run_id: str) -> None:
    """The run's id in its run.json, as integration-run writes it when the run ends."""
    result = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**result, "history": {"run_id": run_id}}))


def toolkit(moto: MotoServer, cwd: Path, *args: str, **env: str) -> Any:
    return run_toolkit(list(args), cwd, env={**moto.env(), **env})


def keys(moto: MotoServer, bucket: str, prefix: str) -> list[str]:
    pages = moto.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents") or ()]


def test_runs_recorded_and_queried_through_the_cli(moto: MotoServer, bucket: str, tmp_path: Path) -> None:
    store = f"s3://{bucket}/team/history"
    commit = "d" * 40
    runs = [
        run_dir(tmp_path, "shop-1"),
        run_dir(tmp_path, "shop-2", failing=TESTS[1]),
        run_dir(tmp_path, "shop-3"),
    ]
    recorded = []
    for i, run in enumerate(runs):
        stamped(run, f"20261202T07150{i}.000Z-{run.name}-0000000{i}")  # as integration-run writes it
        done = toolkit(moto, tmp_path, "history", "record", str(run), "--store", store, "--json",
                       GITHUB_SHA=commit, GITHUB_REF_NAME="main" if i < 2 else "dev")  # fmt: skip
        assert done.returncode == 0, done.output
        assert done.json()["store"] == store and done.json()["tests"] == 3
        recorded.append(done.json()["recorded"])
    assert recorded == [f"20261202T07150{i}.000Z-shop-{i + 1}-0000000{i}" for i in range(3)]
    first = recorded[0]
    assert sorted(keys(moto, bucket, f"team/history/runs/{first}/")) == [
        f"team/history/runs/{first}/{name}.gz" for name in ("junit.xml", "run.json")
    ]
    index = keys(moto, bucket, "team/history/index/")
    assert index == [f"team/history/index/{r}.json.gz" for r in recorded]
    body = moto.client("s3").get_object(Bucket=bucket, Key=index[0])["Body"].read()
    assert json.loads(gzip.decompress(body))["run_id"] == first  # the index object is the record

    trend = toolkit(moto, tmp_path, "history", "trend", "--json", "--store", store)
    assert trend.returncode == 0, trend.output
    assert trend.json()["runs"] == 3 and trend.json()["runs_passed"] == 2
    assert [p["run_id"] for p in trend.json()["points"]] == recorded
    assert trend.json()["phase_p50"] == {"up": 1.5, "ready": 2.0, "test": 3.25}

    flaky = toolkit(moto, tmp_path, "history", "flaky", "--json", "--store", store)
    assert [f["id"] for f in flaky.json()["flaky"]] == [TESTS[1]]  # failed and passed on one commit
    assert flaky.json()["flaky"][0]["last_seen"] == recorded[1]

    last = toolkit(moto, tmp_path, "history", "slowest", "--json", "--last", "1", "--store", store)
    assert last.json()["runs"] == 1 and last.json()["slowest"][0]["id"] == TESTS[2]
    main = toolkit(moto, tmp_path, "history", "trend", "--json", "--branch", "main", "--store", store)
    assert [p["run_id"] for p in main.json()["points"]] == recorded[:2]

    text = toolkit(moto, tmp_path, "history", "trend", "--store", store)
    assert f"trend over 3 runs in {store}" in text.stdout, text.output


def test_a_copied_run_dir_recorded_twice_is_one_run(moto: MotoServer, bucket: str, tmp_path: Path) -> None:
    store = f"s3://{bucket}/copies"
    run = run_dir(tmp_path / "job", "copied-run")  # a run.json without an id: from its content
    copy = tmp_path / "downloaded" / "copied-run"
    copy.parent.mkdir()
    subprocess.run(["cp", "-r", str(run), str(copy)], check=True)  # a new mtime, the same run
    ids = []
    for where in (run, copy):
        done = toolkit(moto, tmp_path, "history", "record", str(where), "--store", store, "--json")
        assert done.returncode == 0, done.output
        ids.append(done.json()["recorded"])
    assert ids[0] == ids[1]
    assert keys(moto, bucket, "copies/index/") == [f"copies/index/{ids[0]}.json.gz"]
    trend = toolkit(moto, tmp_path, "history", "trend", "--json", "--store", store)
    assert trend.json()["runs"] == 1, trend.output


def test_twenty_writer_processes_at_once_give_twenty_runs(
    moto: MotoServer, bucket: str, tmp_path: Path
) -> None:
    store = f"s3://{bucket}/parallel"
    dirs = [run_dir(tmp_path, f"par-{i:02d}") for i in range(20)]
    writers = [
        subprocess.Popen(
            [sys.executable, "-m", "ci_toolkit", "history", "record", str(d), "--store", store],
            cwd=tmp_path,
            env=clean_env(moto.env()),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for d in dirs
    ]
    outputs = [w.communicate(timeout=300)[0] for w in writers]
    assert [w.returncode for w in writers] == [0] * 20, outputs
    assert len(keys(moto, bucket, "parallel/index/")) == 20
    trend = toolkit(moto, tmp_path, "history", "trend", "--json", "--last", "100", "--store", store)
    assert trend.returncode == 0, trend.output
    assert trend.json()["runs"] == 20
    assert "skipped" not in trend.stderr


def test_a_writer_killed_mid_upload_leaves_the_index_whole(
    moto: MotoServer, bucket: str, tmp_path: Path
) -> None:
    store = f"s3://{bucket}/killed"
    kept = run_dir(tmp_path, "before-kill")
    assert toolkit(moto, tmp_path, "history", "record", str(kept), "--store", store).returncode == 0
    s3 = moto.client("s3")
    killed_in_the_window = 0
    for attempt in range(4):  # each attempt a bigger junit.xml: a longer upload to be caught in
        junit = os.urandom(1024 * 1024 * 4 * (attempt + 1)).hex().encode()  # gzip halves hex, no more
        run = run_dir(tmp_path, f"killed-{attempt}", junit=junit)
        writer = subprocess.Popen(
            [sys.executable, "-m", "ci_toolkit", "history", "record", str(run), "--store", store],
            cwd=tmp_path,
            env=clean_env(moto.env()),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started = [k for k in keys(moto, bucket, "killed/runs/") if f"-killed-{attempt}-" in k]
        deadline = time.monotonic() + 120
        while not started and writer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)  # its run.json.gz is up: junit.xml.gz is being compressed and sent
            started = [k for k in keys(moto, bucket, "killed/runs/") if f"-killed-{attempt}-" in k]
        indexed = [k for k in keys(moto, bucket, "killed/index/") if f"-killed-{attempt}-" in k]
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        if started and not indexed and writer.returncode == -signal.SIGKILL:
            killed_in_the_window += 1
            assert not [k for k in keys(moto, bucket, "killed/index/") if f"-killed-{attempt}-" in k]

        # Whatever the writer got to: every listed run reads whole, the killed one is absent or whole.
        trend = toolkit(moto, tmp_path, "history", "trend", "--json", "--last", "100", "--store", store)
        assert trend.returncode == 0, trend.output
        assert "skipped" not in trend.stderr, trend.stderr
        listed = keys(moto, bucket, "killed/index/")
        assert trend.json()["runs"] == len(listed)
        for key in listed:
            record = json.loads(gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
            assert len(record["tests"]) == 3 and record["status"] == "passed"
        if killed_in_the_window:
            break
    assert killed_in_the_window, "no writer was caught between its first object and its index object"

    # Recorded again later (as the run's warning says), the run is complete.
    again = toolkit(moto, tmp_path, "history", "record", str(run), "--store", store, "--json")
    assert again.returncode == 0, again.output
    run_id = again.json()["recorded"]
    assert f"killed/index/{run_id}.json.gz" in keys(moto, bucket, "killed/index/")
    junit_key = f"killed/runs/{run_id}/junit.xml.gz"
    assert gzip.decompress(s3.get_object(Bucket=bucket, Key=junit_key)["Body"].read()) == junit


def test_a_bucket_that_does_not_exist_is_exit_8_naming_it(moto: MotoServer, tmp_path: Path) -> None:
    run = run_dir(tmp_path, "nowhere")
    store = "s3://no-such-bucket-ci/history"
    for args in (["history", "record", str(run)], ["history", "trend"]):
        done = toolkit(moto, tmp_path, *args, "--store", store)
        assert done.returncode == 8, done.output
        assert "S3 bucket no-such-bucket-ci does not exist" in done.stderr
        assert "aws s3 mb s3://no-such-bucket-ci" in done.stderr and "Traceback" not in done.output


def test_an_unreachable_endpoint_is_exit_8_naming_the_bucket(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
    }
    done = run_toolkit(["history", "trend", "--store", "s3://some-bucket/x"], tmp_path, env=env)
    assert done.returncode == 8, done.output
    assert f"S3 bucket some-bucket cannot be reached at http://127.0.0.1:{port}" in done.stderr


def test_credentials_that_may_not_write_are_exit_8_naming_the_bucket(tmp_path: Path) -> None:
    with moto_server(tmp_path / "moto-iam") as server:  # IAM enforced: a server of its own
        server.client("s3").create_bucket(Bucket="locked-history")
        key, secret = server.user("reader", ["s3:ListBucket", "s3:GetObject"])
        server.enforce_iam()
        env = server.env(key, secret)
        run = run_dir(tmp_path, "denied")
        done = run_toolkit(
            ["history", "record", str(run), "--store", "s3://locked-history/h"], tmp_path, env=env
        )
        assert done.returncode == 8, done.output
        assert "access denied to write S3 bucket locked-history" in done.stderr
        assert "s3:PutObject on arn:aws:s3:::locked-history/h/*" in done.stderr
        read = run_toolkit(
            ["history", "trend", "--json", "--store", "s3://locked-history/h"], tmp_path, env=env
        )
        assert read.returncode == 0 and read.json()["runs"] == 0, read.output
