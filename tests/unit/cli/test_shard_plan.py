"""`ci-toolkit shard plan` as a workflow calls it: JSON on stdout, the estimate on stderr."""

from __future__ import annotations

import json
from pathlib import Path

from ci_toolkit.shard import ledger
from ci_toolkit.shard.ledger import Ledger, Timing
from tests.conftest import REPO, run_cli


def test_plan_is_one_line_of_matrix_json_times_the_matrix_cells(tmp_path: Path) -> None:
    result = run_cli(["shard", "plan", "--shards", "3", "--artifacts-dir", str(tmp_path)], cwd=REPO)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    cells = json.loads(line)["include"]
    assert len(cells) == 4 * 3  # the example's four [matrix] cells, three shards each
    assert {c["shard"] for c in cells} == {"1/3", "2/3", "3/3"}
    assert len({c["slug"] for c in cells}) == 12
    assert "no durations recorded" in result.stderr


def test_plan_estimates_each_shard_from_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    ledger.save(Ledger({f"t.py::t{i}": Timing(call=float(i)) for i in range(1, 9)}), path)
    result = run_cli(
        [
            "shard",
            "plan",
            "-n",
            "2",
            "--durations",
            str(path),
            "--only",
            "suite=smoke",
            "--only",
            "POSTGRES_IMAGE=postgres:15",
        ],
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    assert [c["shard"] for c in json.loads(result.stdout)["include"]] == ["1/2", "2/2"]
    assert "shard 1/2: 4 tests, about 18.0 s" in result.stderr
    assert "shard 2/2: 4 tests, about 18.0 s" in result.stderr


def test_bad_shard_counts_and_filters_are_usage_errors(tmp_path: Path) -> None:
    zero = run_cli(["shard", "plan", "--shards", "0"], cwd=REPO)
    assert zero.returncode == 2 and "--shards takes 1 to 256" in zero.stderr
    nothing = run_cli(["shard", "plan", "-n", "2", "--only", "suite=nightly"], cwd=REPO)
    assert nothing.returncode == 2 and "'nightly' is not a value of suite" in nothing.stderr


def test_a_bad_shard_option_names_the_form_before_anything_starts(tmp_path: Path) -> None:
    result = run_cli(["integration-run", "--shard", "5/4", "--artifacts-dir", str(tmp_path)], cwd=REPO)
    assert result.returncode == 2
    assert "--shard: a shard is K/N with 1 <= K <= N (e.g. 2/4), not '5/4'" in result.stderr + result.stdout
    env_result = run_cli(["test", "--artifacts-dir", str(tmp_path)], cwd=REPO, env={"CI_TOOLKIT_SHARD": "x"})
    assert env_result.returncode == 2 and "not 'x'" in env_result.stderr + env_result.stdout
