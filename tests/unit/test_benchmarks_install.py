"""The install benchmark without act: the workflow it writes (pinned, env-only inputs, actionlint
clean, its check step run by bash on a real venv), the act command and environment it builds,
act's log read into samples, and the figures, target and RESULTS.md section made from them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks import install, markdown_install, targets
from benchmarks import results as results_doc
from benchmarks import run as bench_run
from tests.unit.workflows.test_workflows import pin_problems, run_blocks, tool

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = (REPO / ".github" / "workflows" / "example.yml").read_text()


def the_workflow() -> str:
    return install.workflow(install.checkout_line(EXAMPLE))


# -- the workflow ---------------------------------------------------------------------------------


def test_the_workflow_pins_checkout_as_the_example_does_and_keeps_the_rules(tmp_path: Path) -> None:
    path = tmp_path / "install.yml"
    path.write_text(the_workflow())
    assert pin_problems(path) == []
    assert install.checkout_line(EXAMPLE) in EXAMPLE
    spec: dict[Any, Any] = yaml.safe_load(path.read_text())
    assert spec["permissions"] == {}
    (job,) = spec["jobs"].values()
    assert job["permissions"] == {"contents": "read"} and job["name"]
    assert [s.get("uses", "").split("@")[0] for s in job["steps"]] == [
        "actions/checkout",
        "./actions/setup",
        "",
    ]
    setup = job["steps"][1]
    assert setup["id"] == "setup" and setup["with"] == {
        "extras": "example",
        "installer": "${{ inputs.installer }}",
    }
    for script in run_blocks(spec):
        assert "${{" not in script and "GITHUB_ENV" not in script


def test_the_workflow_passes_actionlint(tmp_path: Path) -> None:
    path = tmp_path / "install.yml"
    path.write_text(the_workflow())
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [tool("actionlint"), "-no-color", str(path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_workflow_without_a_pinned_checkout_is_refused() -> None:
    with pytest.raises(ValueError, match="no pinned actions/checkout"):
        install.checkout_line("steps:\n  - uses: actions/checkout@v7\n")


def check_script() -> str:
    spec = yaml.safe_load(the_workflow())
    (job,) = spec["jobs"].values()
    step = next(s for s in job["steps"] if s.get("id") == "check")
    script: str = step["run"]
    return script


@pytest.fixture(scope="module")
def fake_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv made by `python -m venv` (pip in it) with a `ci-toolkit` that prints a version."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    venv.create(root, with_pip=True)
    script = root / "bin" / "ci-toolkit"
    script.write_text("#!/bin/sh\necho 9.9.9\n")
    script.chmod(0o755)
    return root


def run_check(root: Path, installer: str, version: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "INSTALLER": installer,
        "PYTHON": str(root / "bin" / "python"),
        "VERSION": version,
        "RUNNER_TEMP": str(tmp_path),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    return subprocess.run(
        ["bash", "-c", check_script()], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_check_step_passes_on_what_pip_makes_and_fails_on_a_mismatch(
    fake_venv: Path, tmp_path: Path
) -> None:
    # `pip install -r` of a requirement the venv already has: pip answers without an index.
    (fake_venv / "lib").mkdir(exist_ok=True)
    site = next((fake_venv / "lib").glob("python3*/site-packages"))
    dist = site / "ci_toolkit-9.9.9.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ci-toolkit\nVersion: 9.9.9\n")
    (dist / "RECORD").write_text("")
    ok = run_check(fake_venv, "pip", "9.9.9", tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert run_check(fake_venv, "uv", "9.9.9", tmp_path).returncode != 0, "pyvenv.cfg has no uv line"
    assert run_check(fake_venv, "pip", "1.0.0", tmp_path).returncode != 0, "the version output differs"


# -- act's command, environment and log -------------------------------------------------------------


def test_every_remote_action_of_actions_setup_is_stubbed_and_checkout_left_to_act(tmp_path: Path) -> None:
    action = (REPO / "actions" / "setup" / "action.yml").read_text()
    remote = install.remote_actions(action)
    assert {r.split("@")[0] for r in remote} == {
        "actions/setup-python",
        "astral-sh/setup-uv",
        "actions/cache",
    }
    cmd = install.act_command("act", tmp_path / "w.yml", tmp_path / "act", tmp_path / "stub", "pip")
    assert cmd[:2] == ["act", "workflow_dispatch"]
    assert cmd[cmd.index("-P") : cmd.index("-P") + 2] == ["-P", "ubuntu-latest=-self-hosted"]
    assert "--no-cache-server" in cmd and cmd[cmd.index("--input") + 1] == "installer=pip"
    mapped = [cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--local-repository"]
    assert mapped == [f"{r}={tmp_path / 'stub'}" for r in remote]


def test_the_act_environment_keeps_the_users_caches_and_mirrors_out(tmp_path: Path) -> None:
    base = {
        "PATH": "/usr/bin",
        "HOME": "/home/me",
        "UV_CACHE_DIR": "/home/me/.cache/uv",
        "UV_INDEX_URL": "https://mirror.invalid/simple",
        "PIP_FIND_LINKS": "/opt/wheels",
        "PIP_CACHE_DIR": "/home/me/.cache/pip",
        "GITHUB_ACTIONS": "true",
        "ACT": "true",
        "VIRTUAL_ENV": "/work/.venv",
    }
    env = install.act_env(base, tmp_path / "uv-bin", tmp_path / "caches")
    assert env["PATH"] == f"{tmp_path / 'uv-bin'}{os.pathsep}/usr/bin"
    assert env["UV_CACHE_DIR"] == str(tmp_path / "caches" / "uv")
    assert env["PIP_CACHE_DIR"] == str(tmp_path / "caches" / "pip")
    assert env["PIP_CONFIG_FILE"] == os.devnull and env["UV_NO_CONFIG"] == "1"
    assert env["HOME"] == "/home/me"
    for gone in ("UV_INDEX_URL", "PIP_FIND_LINKS", "GITHUB_ACTIONS", "ACT", "VIRTUAL_ENV"):
        assert gone not in env


def record(step_id: list[str], name: str, result: str, ns: int | None, stage: str = "Main") -> str:
    mark = {"success": "✅  Success", "failure": "❌  Failure", "skipped": "☁  Skipped"}[result]
    shown = f" [{ns / 1e9:.3f}s]" if ns is not None else ""
    data: dict[str, Any] = {"msg": f"  {mark} - {stage} {name}{shown}", "stage": stage, "stepID": step_id}
    data["stepResult"] = result
    if ns is not None:
        data["executionTime"] = ns
    return json.dumps(data)


LOG = "\n".join(
    [
        json.dumps({"msg": "  ✅  Success - Set up job", "stepResult": "success", "stepid": ["--setup-job"]}),
        "not json at all",
        record(["0"], "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1", "success", 358_118_812),
        record(["setup", "0"], "Set up Python", "skipped", None),
        record(["setup", "source"], "Locate ci-toolkit", "success", 5_631_664),
        record(["setup", "1"], "Set up uv", "skipped", None),
        record(["setup", "install"], "Install ci-toolkit", "success", 3_641_235_203),
        record(["setup"], "./actions/setup", "success", 3_770_517_515),
        record(["check"], "Check the virtualenv", "success", 695_475_953),
        record(["setup"], "./actions/setup", "success", 77_245, stage="Post"),
    ]
)


def test_a_run_is_read_from_acts_log_setup_step_and_its_parts() -> None:
    log = install.records(LOG)
    assert log[1] == {"msg": "not json at all"}
    sample = install.sample_of(log, 0)
    assert sample["ok"] is True
    assert sample["seconds"] == pytest.approx(3.770517515)  # Main, not Post
    assert sample["parts"] == {
        "Locate ci-toolkit": pytest.approx(0.005631664),
        "Install ci-toolkit": pytest.approx(3.641235203),
    }


def test_a_failed_setup_or_check_or_act_is_no_sample() -> None:
    failed = LOG.replace(record(["check"], "Check the virtualenv", "success", 695_475_953), "").replace(
        record(["setup"], "./actions/setup", "success", 3_770_517_515),
        record(["setup"], "./actions/setup", "failure", 1_000_000),
    )
    sample = install.sample_of(install.records(failed), 1)
    assert sample["ok"] is False
    assert "act exited 1" in sample["problem"]
    assert (
        "./actions/setup: failure" in sample["problem"] and "the venv check: did not run" in sample["problem"]
    )
    assert install.sample_of(install.records(LOG), 2)["ok"] is False


def test_a_cache_is_sized_once_per_file_hard_links_included(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "wheel").write_bytes(b"x" * 600_000)
    os.link(tmp_path / "a" / "wheel", tmp_path / "linked")
    (tmp_path / "b").write_bytes(b"y" * 400_000)
    assert install.size_mb(tmp_path) == pytest.approx(1.0)


# -- the rep loop, with act stood in for -------------------------------------------------------------


class FakeInstalls(install.Installs):
    """The rep loop over a recorded outcome per run, instead of act."""

    def __init__(self, root: Path, outcomes: dict[str, bool]) -> None:
        self.root = root
        self.outcomes = outcomes
        self.seen: list[tuple[str, Path]] = []

    def run(self, installer: str, caches: Path, tag: str) -> install.Sample:
        self.seen.append((tag, caches))
        caches.mkdir(parents=True, exist_ok=True)
        if self.outcomes.get(tag, True):
            return {"ok": True, "seconds": 1.0}
        raise RuntimeError("act timed out")


def test_a_rep_runs_cold_then_warm_on_the_same_fresh_cache_per_installer(tmp_path: Path) -> None:
    fake = FakeInstalls(tmp_path, {"pip-cold-3": False})
    got = list(fake.rep(3, ["pip", "uv"]))
    assert [k for k, _ in got] == ["pip_cold", "pip_warm", "uv_cold", "uv_warm"]
    assert got[0][1] == {"ok": False, "problem": "RuntimeError: act timed out"}
    assert got[1][1] == {"ok": False, "problem": "the cold run before it failed"}
    assert [tag for tag, _ in fake.seen] == ["pip-cold-3", "uv-cold-3", "uv-warm-3"]
    assert fake.seen[1][1] == fake.seen[2][1] == tmp_path / "caches-uv-3"
    assert not (tmp_path / "caches-uv-3").exists(), "a rep's caches are removed after it"


# -- figures, target, RESULTS.md -------------------------------------------------------------------


def samples(uv_warm: float) -> dict[str, list[dict[str, Any]]]:
    versions = {"uv": "uv 0.13.9 (x86_64-unknown-linux-gnu)", "pip": "23.2.1"}

    def ok(seconds: float, mb: float) -> dict[str, Any]:
        parts = {"Install ci-toolkit": seconds - 0.1}
        return {
            "ok": True,
            "seconds": seconds,
            "parts": parts,
            "wall": seconds + 2,
            "cache_mb": mb,
            "versions": versions,
        }

    return {
        "uv_cold": [ok(3.4, 80.0)],
        "uv_warm": [ok(uv_warm, 81.0)],
        "pip_cold": [ok(18.3, 0.0)],
        "pip_warm": [ok(18.7, 0.0), {"ok": False, "problem": "act exited 1"}],
    }


def test_the_summary_has_the_four_keys_the_speed_ups_and_the_target() -> None:
    summary = install.summary(samples(2.9), install.LABELS)
    assert summary["uv_cold_seconds"] == 3.4 and summary["uv_warm_seconds"] == 2.9
    assert summary["pip_cold_seconds"] == 18.3 and summary["pip_warm_seconds"] == 18.7
    assert summary["speedup_warm_vs_pip"] == pytest.approx(18.7 / 2.9)
    assert summary["cache_mb"]["uv_warm"] == 81.0 and summary["cache_mb"]["pip_cold"] == 0.0
    assert summary["versions"]["pip"] == "23.2.1"
    assert (
        summary["alternatives"]["pip_warm"]["valid"] == 1 and summary["alternatives"]["pip_warm"]["reps"] == 2
    )
    row = next(
        t for t in targets.check_targets({"install": summary}) if t["key"] == "install.uv_warm_seconds"
    )
    assert row["threshold"] == 10.0 and row["met"] is True
    slow = install.summary(samples(12.0), install.LABELS)
    assert (
        next(t for t in targets.check_targets({"install": slow}) if t["key"] == "install.uv_warm_seconds")[
            "met"
        ]
        is False
    )


def assembled(suite_samples: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    run = {
        "id": "abc123",
        "date": "today",
        "reps": 1,
        "smoke": False,
        "suites": ["install"],
        "seconds": 60.0,
        "command": "python benchmarks/run.py --reps 1 --suites install",
        "load_average_at_start": 0.5,
        "projects": [],
        "projects_left_behind": [],
        "resources_still_present": {},
        "cleanup_problems": [],
    }
    empty: dict[str, list[dict[str, Any]]] = {}
    all_samples = {s: empty for s in ("readiness", "overhead", "startup", "concurrency", "health_gated")}
    labels: dict[str, dict[str, str]] = {s: {} for s in all_samples}
    return results_doc.assemble(
        run, {**labels, "install": install.LABELS}, {**all_samples, "install": suite_samples}
    )


def test_results_json_keys_and_the_errors_of_failed_runs() -> None:
    results = assembled(samples(2.9))
    for key in ("uv_cold_seconds", "uv_warm_seconds", "pip_cold_seconds", "pip_warm_seconds"):
        assert isinstance(results["install"][key], float)
    assert results["errors"] == ["install pip_warm: act exited 1"]
    json.dumps(results_doc.rounded(results))


def test_the_results_md_section_and_finding(tmp_path: Path) -> None:
    results = assembled(samples(2.9))
    text = "\n".join(markdown_install.section(results))
    assert text.startswith("## 9. Installing ci-toolkit in Actions (`actions/setup`)")
    assert "uv 0.13.9 (x86_64-unknown-linux-gnu); pip 23.2.1" in text
    assert re.search(
        r"^\| uv \(default\): empty uv cache \| 3\.40 \| 3\.40 \| 3\.40 \| - \| - \| 3\.30 \| 80 \| 1/1 \|$",
        text,
        re.M,
    )
    assert re.search(
        r"^\| pip \(`installer: pip`\): the cache the cold run filled \| .* \| 1/2 \|$", text, re.M
    )
    (finding,) = markdown_install.findings(results)
    assert finding.startswith("**Install** (met): `actions/setup` with uv takes 2.90 s warm (target 10 s)")
    assert "pip's cache held 0.0 MB after its cold run" in finding
    results_doc.write(results, tmp_path)
    md = (tmp_path / "RESULTS.md").read_text()
    assert "## 9. Installing ci-toolkit in Actions" in md and "| `actions/setup` with uv, warm cache" in md
    assert "2.90 s | met |" in md
    assert json.loads((tmp_path / "results.json").read_text())["install"]["uv_warm_seconds"] == 2.9


def test_nothing_measured_is_no_section() -> None:
    results = assembled({k: [] for k in install.KEYS})
    assert markdown_install.section(results) == [] and markdown_install.findings(results) == []
    assert results["install"]["uv_warm_seconds"] is None


# -- the command line ------------------------------------------------------------------------------


def test_install_is_a_suite_that_smoke_leaves_out_unless_named() -> None:
    assert "install" in bench_run.SUITES
    assert "install" in bench_run.parse([]).suites
    assert "install" not in bench_run.parse(["--smoke"]).suites
    assert bench_run.parse(["--smoke", "--suites", "install"]).suites == ["install"]
