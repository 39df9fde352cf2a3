"""The `report` jobs of the scheduled workflows (matrix.yml, soak.yml), beyond what
test_workflows.py checks (their permissions and `if:`): they wait for every job a scheduled run
starts, hand `ci-toolkit report issue` the directory the run's artifacts were downloaded into,
tolerate a run that uploaded nothing, and a scheduled run (which has no inputs) gets a default for
every input it reads. What `gh` then does on GitHub is the boundary no test here crosses."""

from __future__ import annotations

import re
import shlex
from typing import Any

import pytest

from tests.unit.workflows.test_workflows import REPO, load_workflow

SCHEDULED = ["matrix.yml", "soak.yml"]
INPUT_USE = re.compile(r"\$\{\{([^}]*\binputs\.[^}]*)\}\}")


def runs_on_schedule(job: dict[str, Any]) -> bool:
    condition = str(job.get("if", ""))
    return "github.event_name == 'push'" not in condition


@pytest.mark.parametrize("name", SCHEDULED)
def test_the_report_job_waits_for_every_job_a_scheduled_run_starts(name: str) -> None:
    jobs = load_workflow(name)["jobs"]
    report = jobs["report"]
    needs = report["needs"] if isinstance(report["needs"], list) else [report["needs"]]
    assert set(needs) == {k for k, job in jobs.items() if k != "report" and runs_on_schedule(job)}


@pytest.mark.parametrize("name", SCHEDULED)
def test_the_report_job_reports_what_it_downloaded_even_when_nothing_was(name: str) -> None:
    steps = load_workflow(name)["jobs"]["report"]["steps"]
    assert [s.get("uses", "").split("@")[0] for s in steps[:3]] == [
        "actions/checkout",
        "./actions/setup",
        "actions/download-artifact",
    ]
    download = steps[2]["with"]
    assert "pattern" in download and "name" not in download  # no artifact at all is no error
    script = steps[3]["run"]
    assert script == f"mkdir -p {download['path']} && ci-toolkit report issue {download['path']} --gh"
    assert shlex.split(script)[-3:] == ["issue", download["path"], "--gh"]
    assert steps[3]["env"] == {"GH_TOKEN": "${{ github.token }}", "GH_REPO": "${{ github.repository }}"}


@pytest.mark.parametrize("name", SCHEDULED)
def test_a_scheduled_run_has_a_default_for_every_input_it_reads(name: str) -> None:
    """`inputs.*` is empty on a schedule: each use falls back (`inputs.x || 'default'`)."""
    wf = load_workflow(name)
    assert "schedule" in wf["on"]
    text = (REPO / ".github" / "workflows" / name).read_text()
    uses = INPUT_USE.findall(text)
    assert uses, f"{name} reads no inputs"
    assert [u for u in uses if "||" not in u] == []
