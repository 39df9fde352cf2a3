"""benchmarks/ imports: no cycle among its modules, and of ci_toolkit only the public names its
package docstring (benchmarks/__init__.py) lists, none of them underscore-private."""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "benchmarks"
DOTTED = re.compile(r"\bci_toolkit(?:\.\w+)+")


@dataclass(frozen=True)
class Imports:
    """What one package's modules import: benchmark modules (by file stem) and ci_toolkit names."""

    local: dict[str, set[str]]  # module -> the package's modules it imports
    ci_toolkit: dict[str, set[str]]  # module -> dotted ci_toolkit names (`pkg.module.name`)


def _imports(tree: ast.AST) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(module, names) for every import in the file, at any depth (lazy imports count too)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports: the runner also runs as a plain script"
            yield node.module or "", tuple(alias.name for alias in node.names)


def scan(package_dir: Path) -> Imports:
    package = package_dir.name
    stems = {p.stem for p in package_dir.glob("*.py")}
    local: dict[str, set[str]] = {}
    toolkit: dict[str, set[str]] = {}
    for path in sorted(package_dir.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        local[path.stem], toolkit[path.stem] = set(), set()
        for module, names in _imports(tree):
            root, _, rest = module.partition(".")
            if root == package:
                if rest:
                    local[path.stem].add(rest.split(".")[0])
                local[path.stem].update(n for n in names if n in stems)
            elif root == "ci_toolkit":
                toolkit[path.stem].update([f"{module}.{n}" for n in names] if names else [module])
    local = {m: {d for d in deps if d != "__init__"} for m, deps in local.items()}
    return Imports(local, toolkit)


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first walk, each as the path that closes it."""
    found: list[list[str]] = []
    done: set[str] = set()

    def walk(node: str, path: list[str]) -> None:
        if node in path:
            found.append([*path[path.index(node) :], node])
            return
        if node in done:
            return
        for dep in sorted(graph.get(node, ())):
            walk(dep, [*path, node])
        done.add(node)

    for start in sorted(graph):
        walk(start, [])
    return found


def private(name: str) -> bool:
    """A part of a dotted name that starts with `_` (a module or name ci_toolkit keeps to itself)."""
    return any(part.startswith("_") for part in name.split("."))


def documented(package_dir: Path) -> set[str]:
    doc = ast.get_docstring(ast.parse((package_dir / "__init__.py").read_text())) or ""
    return set(DOTTED.findall(doc))


# -- the benchmarks -----------------------------------------------------------------------------


def test_benchmark_modules_import_each_other_without_a_cycle() -> None:
    graph = scan(BENCHMARKS).local
    assert set(graph) >= {"run", "results", "markdown", "findings", "figures", "targets"}
    assert cycles(graph) == []


def test_benchmarks_use_only_public_ci_toolkit_names() -> None:
    used = set().union(*scan(BENCHMARKS).ci_toolkit.values())
    assert used, "the benchmarks import nothing of ci_toolkit: the scan is broken"
    assert sorted(n for n in used if private(n)) == []


def test_the_ci_toolkit_names_the_benchmarks_use_are_the_documented_ones() -> None:
    used = set().union(*scan(BENCHMARKS).ci_toolkit.values())
    listed = documented(BENCHMARKS)
    assert sorted(used - listed) == [], "imported but not listed in benchmarks/__init__.py"
    assert sorted(listed - used) == [], "listed in benchmarks/__init__.py but no longer imported"


def test_every_documented_name_exists_in_ci_toolkit() -> None:
    """A ci_toolkit reorganisation that moves one of them breaks the benchmarks: say so here, fast."""
    for dotted in sorted(documented(BENCHMARKS)):
        module, _, name = dotted.rpartition(".")
        target: object
        try:
            target = importlib.import_module(dotted)
        except ModuleNotFoundError:
            target = getattr(importlib.import_module(module), name, None)
        assert target is not None, f"{dotted} no longer exists"


# -- the checks themselves can fail -------------------------------------------------------------


@pytest.fixture
def fake_benchmarks(tmp_path: Path) -> Path:
    package = tmp_path / "benchmarks"
    package.mkdir()
    (package / "__init__.py").write_text('"""Uses ci_toolkit.config.load."""\n')
    return package


def test_a_cycle_through_a_lazy_import_is_found(fake_benchmarks: Path) -> None:
    (fake_benchmarks / "report.py").write_text("from benchmarks.markdown import render\n")
    (fake_benchmarks / "markdown.py").write_text("from benchmarks import findings\n")
    (fake_benchmarks / "findings.py").write_text("def f():\n    from benchmarks.report import X\n")
    (fake_benchmarks / "leaf.py").write_text("import benchmarks.report\n")
    found = cycles(scan(fake_benchmarks).local)
    assert ["findings", "report", "markdown", "findings"] in found


def test_underscore_names_and_undocumented_names_are_found(fake_benchmarks: Path) -> None:
    (fake_benchmarks / "a.py").write_text(
        "from ci_toolkit.config import load\n"
        "from ci_toolkit.stack.health import _Waiter\n"
        "def f():\n    import ci_toolkit._internal\n"
    )
    used = set().union(*scan(fake_benchmarks).ci_toolkit.values())
    bad = {"ci_toolkit._internal", "ci_toolkit.stack.health._Waiter"}
    assert {n for n in used if private(n)} == bad
    assert used - documented(fake_benchmarks) == bad
