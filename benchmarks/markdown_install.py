"""RESULTS.md's section on installing ci-toolkit in Actions (issue 14): `actions/setup` with uv
and with pip, cold and warm, its finding and its method."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.tables import Row, s, s2, table, triple, x
from benchmarks.targets import TARGETS

WARM_KEY = "install.uv_warm_seconds"
PARTS = ("Locate ci-toolkit", "Find pip's cache", "Install ci-toolkit")  # actions/setup's steps that ran


def _rows(alts: Mapping[str, Any], cache_mb: Mapping[str, float | None]) -> list[Row]:
    rows: list[Row] = []
    for key, a in alts.items():
        if not a["reps"]:
            continue
        parts = a.get("parts", {})
        mb = cache_mb.get(key)
        rows.append(
            [
                a["label"],
                *triple(a["seconds"]),
                *(s2(parts.get(n)) for n in PARTS),
                "-" if mb is None else f"{mb:.0f}",
                f"{a['valid']}/{a['reps']}",
            ]
        )
    return rows


def section(r: Mapping[str, Any]) -> list[str]:
    ins = r.get("install", {})
    alts = ins.get("alternatives", {})
    if not any(a["reps"] for a in alts.values()):
        return []
    v = ins.get("versions", {})
    header = ["install", "min", "median", "max", *PARTS, "cache after (MB)", "valid"]
    return [
        "## 9. Installing ci-toolkit in Actions (`actions/setup`)\n",
        "The local `./actions/setup` (with the example's extras) as a workflow step, run by act on this "
        "host: uv (the default: `uv venv --seed` + `uv pip install`) and pip (`installer: pip`: "
        "`python3 -m venv` + `pip install`), each first with an empty cache, then with the cache that "
        "run filled. Seconds of the whole `./actions/setup` step as act timed it, and of its steps that "
        f"ran (medians). {v.get('uv') or 'uv ?'}; pip {v.get('pip') or '?'} (the one `python3 -m venv` "
        "puts in a venv).\n",
        table(header, _rows(alts, ins.get("cache_mb", {}))),
        f"uv against pip: {x(ins.get('speedup_cold_vs_pip'))} as fast cold, "
        f"{x(ins.get('speedup_warm_vs_pip'))} warm.\n",
    ]


def findings(r: Mapping[str, Any]) -> list[str]:
    ins = r.get("install", {})
    if ins.get("uv_warm_seconds") is None:
        return []
    met = next((t["met"] for t in r["targets"] if t["key"] == WARM_KEY), None)
    threshold = next(float(t[3]) for t in TARGETS if t[0] == WARM_KEY)
    state = {True: "met", False: "not met", None: "not measured"}[met]
    text = [
        f"**Install** ({state}): `actions/setup` with uv takes {s(ins['uv_warm_seconds'])} s warm",
        f"(target {threshold:g} s) and {s(ins.get('uv_cold_seconds'))} s cold; with pip",
        f"{s(ins.get('pip_warm_seconds'))} s warm and {s(ins.get('pip_cold_seconds'))} s cold",
        f"(uv {x(ins.get('speedup_warm_vs_pip'))} as fast warm, {x(ins.get('speedup_cold_vs_pip'))} cold).",
    ]
    pip_mb = (ins.get("cache_mb") or {}).get("pip_cold")
    if pip_mb is not None and pip_mb < 1:
        text.append(
            f"pip's cache held {pip_mb:.1f} MB after its cold run: this machine's registry answers "
            "without caching headers, so pip's HTTP cache stores nothing and its warm run downloads "
            "everything again (on GitHub its cache works, and pip's warm install is faster than here)."
        )
    return [" ".join(text)]


METHOD = [
    "Install: the workflow (written to the scratch dir) checks out this working tree (act copies it), "
    "runs `./actions/setup` with `installer: uv` or `pip`, then checks the venv (the `pip` on PATH is "
    "the venv's and `pip install -r` works in it, `ci-toolkit version` is the step's output, uv's name "
    "is in pyvenv.cfg or not). act skips setup-python, setup-uv and actions/cache (`if: !env.ACT`, "
    "each mapped to a stub that fails if it runs): the host's python3 makes the venv and the host's uv "
    "(the dev extra's, alone on a directory put first on PATH) installs. Each installer's cache is a "
    "fresh directory under the scratch dir (UV_CACHE_DIR, PIP_CACHE_DIR); the host's pip and uv "
    "configuration is left out (PIP_CONFIG_FILE=/dev/null, UV_NO_CONFIG=1), so both fetch from PyPI "
    "as on GitHub and no cache or mirror of the user's is read or written. Per rep and installer "
    "(the installers' order rotates): cold, then warm on the same cache. ci-toolkit is built from "
    "the checkout every time (a fresh copy, as a fresh checkout on GitHub). On GitHub, setup-uv "
    "restores and saves uv's cache (its `enable-cache: auto`) around the same commands.",
]
