"""The generated test suite the shard benchmark splits: seeded, so every run splits the same suite.

Skewed like a real one: most tests take a few milliseconds, a long tail of slow ones (0.2-1.5 s)
sits mostly in a few modules (the integration-heavy files of a real suite), and a couple of
modules share a slow module-scoped fixture: its setup lands on whichever of the module's tests a
process runs first, which is why the ledger keeps setup apart from a test's own time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Spec:
    """What to generate. `scale` multiplies every sleep: the unit test's tiny version of the suite."""

    seed: int = 13
    modules: int = 12
    tests_per_module: int = 28
    slow_tests: int = 34
    fast_seconds: tuple[float, float] = (0.001, 0.015)
    slow_seconds: tuple[float, float] = (0.2, 1.5)
    fixture_modules: tuple[int, ...] = (3, 8)
    fixture_seconds: float = 0.6
    scale: float = 1.0

    @property
    def tests(self) -> int:
        return self.modules * self.tests_per_module

    def module_file(self, module: int) -> str:
        return f"test_mod_{module:02d}.py"

    def fixture_files(self) -> tuple[str, ...]:
        return tuple(self.module_file(m) for m in self.fixture_modules)


def sleeps(spec: Spec) -> dict[str, float]:
    """Node id -> the seconds its test body sleeps, in collection order."""
    rng = random.Random(spec.seed)
    low, high = spec.fast_seconds
    table = {
        (m, i): rng.uniform(low, high) for m in range(spec.modules) for i in range(spec.tests_per_module)
    }
    # The tail crowds into the first modules (weights fall off), as slow tests do in real suites:
    # a split that keeps collection order in contiguous chunks meets them all together.
    weights = [1.0 / (1 + m) ** 1.2 for m in range(spec.modules)]
    slots = [key for key in table if key[0] not in spec.fixture_modules]
    chosen: set[tuple[int, int]] = set()
    while len(chosen) < min(spec.slow_tests, len(slots)):
        module = rng.choices(range(spec.modules), weights)[0]
        candidates = [k for k in slots if k[0] == module and k not in chosen]
        if candidates:
            chosen.add(rng.choice(candidates))
    s_low, s_high = spec.slow_seconds
    for key in sorted(chosen):
        table[key] = s_low + (s_high - s_low) * rng.random() ** 1.5  # more short than long ones
    return {
        f"{spec.module_file(m)}::test_{m:02d}_{i:03d}": seconds * spec.scale
        for (m, i), seconds in table.items()
    }


def write(dest: Path, spec: Spec) -> dict[str, float]:
    """The suite as files under `dest` (its own pytest.ini: the rootdir, whatever is above it);
    returns `sleeps(spec)`."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "pytest.ini").write_text("[pytest]\naddopts =\n")
    table = sleeps(spec)
    for m in range(spec.modules):
        name = spec.module_file(m)
        with_fixture = m in spec.fixture_modules
        lines = ["import time\n"]
        if with_fixture:
            lines += [
                "import pytest\n\n",
                '@pytest.fixture(scope="module")\n',
                "def resource():\n",
                f"    time.sleep({spec.fixture_seconds * spec.scale!r})  # a slow shared setup\n",
                "    return object()\n",
            ]
        argument = "resource" if with_fixture else ""
        for test_id, seconds in table.items():
            if test_id.startswith(f"{name}::"):
                lines.append(f"\n\ndef {test_id.split('::')[1]}({argument}):\n    time.sleep({seconds!r})\n")
        (dest / name).write_text("".join(lines))
    return table
