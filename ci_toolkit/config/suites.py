"""Named test suites: `[suites]` maps a name to a pytest `-m` marker expression.

    [suites]
    smoke = "not slow and not destructive"
    full = ""
    nightly = { markers = "slow", args = ["--maxfail=5"], fail_under = 0 }

Every marker a suite expression names must be declared in `pytest.markers` (ci-toolkit
registers those in the test run, so pytest never warns about them), or be one of pytest's
own. Expressions are parsed at load with pytest's grammar, so a typo is a config error with
a did-you-mean instead of a run that silently selects nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ci_toolkit.config.schema import Problems, Table, did_you_mean
from ci_toolkit.errors import UsageError

# Markers pytest and the plugins ci-toolkit loads define themselves.
BUILTIN_MARKERS = frozenset(
    {"skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings", "timeout"}
)
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# pytest's marker-expression tokens (src/_pytest/mark/expression.py).
_TOKEN = re.compile(
    r"\s*(?:(?P<paren>[()])|(?P<string>\"[^\"]*\"|'[^']*')|(?P<punct>[=,])"
    r"|(?P<ident>(?:\w|:|\+|-|\.|\[|\]|\\|/)+)|(?P<bad>\S))"
)
_KEYWORDS = ("and", "or", "not")


@dataclass(frozen=True)
class Suite:
    name: str
    markers: str = ""  # a pytest -m expression; "" selects every test
    args: tuple[str, ...] = ()  # extra pytest arguments
    fail_under: float | None = None  # overrides pytest.fail_under for this suite

    def pytest_args(self) -> tuple[str, ...]:
        selection = ("-m", self.markers) if self.markers.strip() else ()
        return (*selection, *self.args)

    def to_dict(self) -> dict[str, object]:
        return {"markers": self.markers, "args": list(self.args), "fail_under": self.fail_under}


def marker_names(declared: Iterable[str]) -> set[str]:
    """`"slow: long tests"` / `"db(name): ..."` -> `slow`, `db`."""
    return {re.split(r"[:(]", line, maxsplit=1)[0].strip() for line in declared if line.strip()}


class ExpressionError(ValueError):
    pass


def expression_markers(expression: str) -> list[str]:
    """The marker names an `-m` expression uses; raises ExpressionError if it does not parse.

    Grammar (pytest's): expr := and ("or" and)*; and := not ("and" not)*;
    not := "not" not | "(" expr ")" | ident ["(" kwargs ")"].
    """
    tokens = _tokenize(expression)
    names: list[str] = []
    pos = _expr(tokens, 0, names)
    if pos != len(tokens):
        raise ExpressionError(f"unexpected {tokens[pos]!r} at token {pos + 1}")
    return names


def _tokenize(expression: str) -> list[str]:
    tokens: list[str] = []
    for match in _TOKEN.finditer(expression):
        if match.group("bad"):
            raise ExpressionError(f"unexpected character {match.group('bad')!r}")
        tokens.append(
            match.group("paren") or match.group("string") or match.group("punct") or match.group("ident")
        )
    return tokens


def _expr(tokens: list[str], pos: int, names: list[str]) -> int:
    pos = _and(tokens, pos, names)
    while pos < len(tokens) and tokens[pos] == "or":
        pos = _and(tokens, pos + 1, names)
    return pos


def _and(tokens: list[str], pos: int, names: list[str]) -> int:
    pos = _not(tokens, pos, names)
    while pos < len(tokens) and tokens[pos] == "and":
        pos = _not(tokens, pos + 1, names)
    return pos


def _not(tokens: list[str], pos: int, names: list[str]) -> int:
    if pos >= len(tokens):
        raise ExpressionError("expression ends where a marker name was expected")
    token = tokens[pos]
    if token == "not":
        return _not(tokens, pos + 1, names)
    if token == "(":
        pos = _expr(tokens, pos + 1, names)
        if pos >= len(tokens) or tokens[pos] != ")":
            raise ExpressionError("missing ')'")
        return pos + 1
    if token in _KEYWORDS or token in (")", "=", ",") or token[0] in "\"'":
        raise ExpressionError(f"expected a marker name, got {token!r}")
    names.append(token)
    pos += 1
    if pos < len(tokens) and tokens[pos] == "(":  # marker(key=value, ...): skip the arguments
        depth = 0
        while pos < len(tokens):
            depth += {"(": 1, ")": -1}.get(tokens[pos], 0)
            pos += 1
            if depth == 0:
                return pos
        raise ExpressionError("missing ')' after marker arguments")
    return pos


def parse(table: Table, declared_markers: Iterable[str]) -> dict[str, Suite]:
    """Read `[suites]`; every problem goes to the table's Problems."""
    known = marker_names(declared_markers)
    suites: dict[str, Suite] = {}
    for name, value in table.data.items():
        table.read.add(name)
        where = table.key(name)
        if not _NAME.match(name):
            table.problems.add(where, "a suite name is letters, digits, '_', '-' or '.'")
            continue
        if isinstance(value, str):
            suite = Suite(name, value)
        elif isinstance(value, dict):
            sub = table.table(name)
            fail_under = sub.get("fail_under", float)
            suite = Suite(name, sub.get("markers", str, ""), sub.str_list("args"), fail_under)
            sub.finish()
        else:
            table.problems.add(
                where, 'expected a marker expression or a table like { markers = "not slow", args = [] }'
            )
            continue
        _check_expression(suite.markers, known, where, table.problems)
        suites[name] = suite
    return suites


def _check_expression(expression: str, known: set[str], where: str, problems: Problems) -> None:
    try:
        used = expression_markers(expression) if expression.strip() else []
    except ExpressionError as exc:
        problems.add(where, f"not a pytest marker expression: {exc} in {expression!r}")
        return
    for marker in dict.fromkeys(used):
        if marker not in known and marker not in BUILTIN_MARKERS:
            declared = ", ".join(sorted(known)) or "none"
            problems.add(
                where,
                f"marker {marker!r} is not declared in pytest.markers{did_you_mean(marker, known)} "
                f'(declared: {declared}); add e.g. "{marker}: what it means" to pytest.markers',
            )


def select(suites: Mapping[str, Suite], name: str, source: object = "config") -> Suite:
    """The suite called `name`, or a usage error naming it (with a near miss)."""
    suite = suites.get(name)
    if suite is None:
        available = ", ".join(sorted(suites)) or "none defined"
        raise UsageError(
            f"unknown suite {name!r}{did_you_mean(name, suites)}; suites in {source}: {available}",
            hint="define it under [suites] (README: Suites)",
        )
    return suite
