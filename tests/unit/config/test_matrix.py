"""The matrix: expansion (GitHub's own rules), validation, picking a cell, `ci-toolkit matrix`,
and `ci-toolkit report merge` over cells' artifacts dirs. No Docker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_toolkit import config
from ci_toolkit.config import matrix
from ci_toolkit.config.schema import Problems, Table
from ci_toolkit.errors import ConfigError, UsageError
from ci_toolkit.pipeline import selection
from ci_toolkit.pipeline.context import RunOptions
from tests.conftest import EXAMPLE_CONFIG, REPO, run_cli


def make(data: dict, suites: tuple[str, ...] = ("smoke", "full")) -> matrix.Matrix:  # type: ignore[type-arg]
    problems = Problems("test.toml")
    parsed = matrix.parse(Table(data, "matrix", problems), suites)
    assert not problems, problems.items
    assert parsed is not None
    return parsed


def problems_of(data: dict, suites: tuple[str, ...] = ("smoke", "full")) -> str:  # type: ignore[type-arg]
    problems = Problems("test.toml")
    matrix.parse(Table(data, "matrix", problems), suites)
    return "\n".join(problems.items)


def rows(m: matrix.Matrix) -> list[dict[str, str]]:
    return [c.mapping for c in m.cells()]


def test_product_in_declaration_order() -> None:
    m = make({"PG": ["15", "17"], "suite": ["smoke", "full"]})
    assert rows(m) == [
        {"PG": "15", "suite": "smoke"},
        {"PG": "15", "suite": "full"},
        {"PG": "17", "suite": "smoke"},
        {"PG": "17", "suite": "full"},
    ]


def test_exclude_removes_partial_matches() -> None:
    m = make({"PG": ["15", "17"], "REDIS": ["6", "7"], "exclude": [{"PG": "15"}, {"PG": "17", "REDIS": "6"}]})
    assert rows(m) == [{"PG": "17", "REDIS": "7"}]


def test_include_follows_github_documented_example() -> None:
    # docs.github.com: "Example: Expanding configurations" — the same input gives the same six jobs.
    m = make(
        {
            "fruit": ["apple", "pear"],
            "animal": ["cat", "dog"],
            "include": [
                {"color": "green"},
                {"color": "pink", "animal": "cat"},
                {"fruit": "apple", "shape": "circle"},
                {"fruit": "banana"},
                {"fruit": "banana", "animal": "cat"},
            ],
        }
    )
    assert rows(m) == [
        {"fruit": "apple", "animal": "cat", "color": "pink", "shape": "circle"},
        {"fruit": "apple", "animal": "dog", "color": "green", "shape": "circle"},
        {"fruit": "pear", "animal": "cat", "color": "pink"},
        {"fruit": "pear", "animal": "dog", "color": "green"},
        {"fruit": "banana"},
        {"fruit": "banana", "animal": "cat"},
    ]


def test_strategy_matrix_json_has_names_and_unique_artifact_safe_slugs() -> None:
    m = make({"IMG": ["postgres:15", "postgres-15"], "suite": ["smoke"]})
    data = m.to_json()
    assert list(data) == ["include"]
    names = [c["name"] for c in data["include"]]
    slugs = [c["slug"] for c in data["include"]]
    assert names == ["postgres:15 / smoke", "postgres-15 / smoke"]
    assert slugs == ["postgres-15-smoke", "postgres-15-smoke-2"]
    assert all(not set(s) & set(':/\\"<>|*?') for s in slugs)


def test_cell_variables_exclude_the_suite() -> None:
    (cell,) = make({"PG": ["17"], "suite": ["full"], "include": [{"PG": "17", "EXPECT": "17"}]}).cells()
    assert cell.suite == "full" and cell.env == {"PG": "17", "EXPECT": "17"}


def test_config_problems_are_reported_with_near_misses() -> None:
    text = problems_of(
        {
            "suite": ["smoke", "ful"],
            "PG": [],
            "bad-name": ["x"],
            "name": ["x"],
            "REDIS": "7",
            "exclude": [{"PGG": "15"}, {"suite": "nightly"}],
            "include": [{"suite": "smok"}, "x"],
        }
    )
    assert "matrix.suite: unknown suite 'ful' (did you mean 'full'?)" in text
    assert "matrix.PG: expected a non-empty array of strings" in text
    assert "matrix.bad-name: an axis is an environment variable name" in text
    assert "matrix.name: 'name' is reserved" in text
    assert "matrix.REDIS: expected an array, got a string" in text
    assert "matrix.exclude[0].PGG: not an axis of the matrix" in text
    assert "matrix.exclude[1].suite: 'nightly' is not a value of axis suite" in text
    assert "matrix.include[0].suite: unknown suite 'smok' (did you mean 'smoke'?)" in text
    assert "matrix.include[1]: expected a non-empty table" in text


def test_config_load_validates_matrix_suites_against_suites(tmp_path: Path) -> None:
    (tmp_path / "ci-toolkit.toml").write_text(
        EXAMPLE_CONFIG.replace('suite = ["smoke", "full"]', 'suite = ["smoky"]')
    )
    with pytest.raises(ConfigError, match=r"matrix.suite: unknown suite 'smoky' \(did you mean 'smoke'\?\)"):
        config.load(tmp_path)


def test_resolve_a_whole_cell_from_the_printed_json() -> None:
    m = make({"PG": ["15", "17"], "suite": ["smoke", "full"], "include": [{"PG": "17", "EXPECT": "17"}]})
    printed = m.to_json()["include"][3]
    cell = matrix.resolve(m, matrix.parse_entry(json.dumps(printed)))
    assert cell.mapping == {"PG": "17", "suite": "full", "EXPECT": "17"}


def test_resolve_a_partial_entry_keeps_what_all_matching_cells_agree_on() -> None:
    m = make({"PG": ["15", "17"], "suite": ["smoke", "full"], "include": [{"PG": "17", "EXPECT": "17"}]})
    cell = matrix.resolve(m, {"PG": "17"})
    assert cell.mapping == {"PG": "17", "EXPECT": "17"} and cell.suite is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('{"PGG": "17"}', "'PGG' is not a matrix key (did you mean 'PG'?)"),
        ('{"PG": "16"}', "'16' is not a value of PG (values: 15, 17)"),
        ('{"PG": "15", "suite": "smoke"}', "matches no cell of the matrix (excluded?)"),
        ('{"PG": "17", "EXPECT": "15"}', "'15' is not a value of EXPECT"),
        ("PG=17", "--matrix-entry is not JSON"),
        ('["PG"]', "must be a JSON object"),
        ('{"PG": ["17"]}', "PG: expected a string"),
        ('{"name": "x"}', "names no matrix key"),
    ],
)
def test_bad_entries_are_usage_errors(entry: str, message: str) -> None:
    m = make(
        {
            "PG": ["15", "17"],
            "suite": ["smoke", "full"],
            "exclude": [{"PG": "15", "suite": "smoke"}],
            "include": [{"PG": "17", "EXPECT": "17"}],
        }
    )
    with pytest.raises(UsageError) as info:
        matrix.resolve(m, matrix.parse_entry(entry))
    assert message in str(info.value)


def test_no_matrix_in_config() -> None:
    with pytest.raises(UsageError, match=r"has no \[matrix\] table"):
        matrix.resolve(None, {"PG": "17"}, "ci-toolkit.toml")


def test_selection_sends_cell_variables_to_compose_and_tests_and_takes_its_suite(tmp_path: Path) -> None:
    (tmp_path / "ci-toolkit.toml").write_text(EXAMPLE_CONFIG)
    cfg = config.load(tmp_path)
    entry = '{"POSTGRES_IMAGE": "postgres:17", "suite": "smoke"}'
    _, options, cell = selection.apply(cfg, RunOptions(), selection.Choice(matrix_entry=entry))
    assert cell is not None and cell.name == "postgres:17 / smoke"
    assert options.env["POSTGRES_IMAGE"] == "postgres:17" and options.env["EXPECT_POSTGRES_MAJOR"] == "17"
    assert options.suite == "smoke" and options.pytest_args[:2] == ("-m", "not slow and not destructive")
    with pytest.raises(UsageError, match="--suite full contradicts"):
        selection.apply(cfg, RunOptions(), selection.Choice(suite="full", matrix_entry=entry))


def test_a_shard_plan_cell_is_no_matrix_entry_for_a_config_without_a_matrix(tmp_path: Path) -> None:
    (tmp_path / "ci-toolkit.toml").write_text(EXAMPLE_CONFIG.split("[matrix]")[0])
    cfg = config.load(tmp_path)
    assert cfg.matrix is None
    entry = '{"shard": "2/3", "name": "shard 2/3", "slug": "shard-2-of-3"}'  # `toJSON(matrix)` of a shard job
    _, _, cell = selection.apply(cfg, RunOptions(), selection.Choice(matrix_entry=entry))
    assert cell is None
    with pytest.raises(UsageError, match=r"has no \[matrix\] table"):  # a real matrix key still says so
        selection.apply(cfg, RunOptions(), selection.Choice(matrix_entry='{"PG": "17", "shard": "1/2"}'))


def test_select_cells_with_only() -> None:
    m = make({"PG": ["15", "17"], "suite": ["smoke", "full"]})
    assert [c.name for c in matrix.select(m, ["suite=full"])] == ["15 / full", "17 / full"]
    with pytest.raises(UsageError, match="--only takes KEY=VALUE"):
        matrix.select(m, ["full"])


def test_cli_prints_valid_strategy_matrix_json() -> None:
    result = run_cli(["matrix"], REPO)
    assert result.returncode == 0, result.output
    (line,) = result.stdout.splitlines()  # one line: fits `echo "matrix=..." >> "$GITHUB_OUTPUT"`
    data = json.loads(line)
    assert list(data) == ["include"] and len(data["include"]) == 4
    for cell in data["include"]:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in cell.items())
        assert {"POSTGRES_IMAGE", "suite", "EXPECT_POSTGRES_MAJOR", "name", "slug"} <= set(cell)
    only = json.loads(run_cli(["matrix", "--only", "suite=full"], REPO).stdout)
    assert [c["name"] for c in only["include"]] == ["postgres:15 / full", "postgres:17 / full"]
    bad = run_cli(["matrix", "--only", "suite=nightly"], REPO)
    assert bad.returncode == 2 and "'nightly' is not a value of suite" in bad.stderr


# -- report merge ---------------------------------------------------------------------------

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="3">
<testcase classname="example.tests.test_orders" name="test_a" file="example/tests/test_orders.py" line="9"/>
<testcase classname="example.tests.test_orders" name="test_b" file="example/tests/test_orders.py" line="19">
{b}</testcase>
<testcase classname="example.tests.test_orders" name="test_c" file="example/tests/test_orders.py" line="29">
<skipped message="no"/></testcase></testsuite></testsuites>
"""
FAILURE = '<failure message="AssertionError: server is PostgreSQL 17, wanted 15">trace</failure>'


def cell_dir(root: Path, slug: str, name: str, status: str, failing: bool) -> Path:
    d = root / slug
    d.mkdir(parents=True)
    (d / "junit.xml").write_text(JUNIT.format(b=FAILURE if failing else ""))
    phases = [{"name": "up", "status": "ok", "seconds": 1.5}, {"name": "test", "status": "ok", "seconds": 2}]
    (d / "run.json").write_text(json.dumps({"status": status, "project": f"p-{slug}", "phases": phases}))
    (d / "selection.json").write_text(json.dumps({"cell": {"name": name, "slug": slug}}))
    return d


def test_report_merge_says_which_cell_failed_which_test(tmp_path: Path) -> None:
    downloaded = tmp_path / "downloaded"  # what actions/download-artifact leaves: one dir per cell
    cell_dir(downloaded, "pg-15", "postgres:15 / full", "passed", failing=False)
    cell_dir(downloaded, "pg-17", "postgres:17 / full", "tests_failed", failing=True)
    broken = tmp_path / "pg-18"
    broken.mkdir()
    (broken / "run.json").write_text(json.dumps({"status": "infra_error", "message": "image not found"}))
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    out = tmp_path / "merged" / "matrix.md"
    result = run_cli(
        ["report", "merge", str(downloaded), str(broken), "--output", str(out)],
        tmp_path,
        {"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.returncode == 1, result.output
    text = result.stdout
    assert "## Integration matrix: 1 of 3 cells passed" in text
    assert "| postgres:15 / full | ✅ passed | 2 | 0 | 0 | 1 | 3.5s |" in text
    assert "| postgres:17 / full | ❌ tests_failed | 1 | 1 | 0 | 1 | 3.5s |" in text
    assert "| `example/tests/test_orders.py::test_b` | postgres:17 / full |" in text
    assert "server is PostgreSQL 17, wanted 15" in text
    assert "- **pg-18**: infra_error: image not found" in text
    assert out.read_text() == text
    assert summary.read_text() == "earlier step\n" + text + "\n"


def test_report_merge_all_passed_exits_0_and_json(tmp_path: Path) -> None:
    a = cell_dir(tmp_path, "a", "A", "passed", failing=False)
    b = cell_dir(tmp_path, "b", "B", "passed", failing=False)
    result = run_cli(["report", "merge", "--json", str(a), str(b)], tmp_path)
    assert result.returncode == 0, result.output
    data = result.json()
    assert [c["name"] for c in data["cells"]] == ["A", "B"] and data["failed_tests"] == {}


def test_report_merge_of_nothing_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(["report", "merge", str(tmp_path)], tmp_path)
    assert result.returncode == 2 and "holds no run results" in result.stderr
