"""Issue 11 (1-3), acceptance: one real `integration-run --json --diagnostics always --github`
whose caller environment, compose `environment:`, an `env_file`, `[secrets]` (from
`--secrets-file`), a DSN and the tests' own output carry fifteen credential shapes. Not one raw
or encoded form of any of them appears in any file of the artifacts dir (bytes, binary files
included), stdout, stderr, the job summary or the step outputs; nor does any 8-character piece
of a long one (what pytest's truncated reprs and diffs would leave).

The forms are computed here with the standard library, independently of ci_toolkit.redact.
"""

from __future__ import annotations

import base64
import html
import json
import secrets as random
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tests.aws_fixtures import run_toolkit
from tests.conftest import assert_no_leaks
from tests.security.test_command_fence import lines_outside_fences

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("engine_available")]


def token(n: int) -> str:
    return random.token_urlsafe(n)[:n].replace("-", "x").replace("_", "y")


PEM_BODY = [base64.b64encode(random.token_bytes(48)).decode() for _ in range(4)]
PEM = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(PEM_BODY) + "\n-----END PRIVATE KEY-----\n"
URL_PASSWORD = token(24)
CALLER = {  # the environment ci-toolkit is started with
    "PGPASS": token(20),
    "SLACK_WEBHOOK_URL": f"https://hooks.slack.com/services/T{token(8)}/B{token(8)}/{token(24)}",
    "SENTRY_DSN": f"https://{random.token_hex(16)}@o{random.randbelow(10**6)}.ingest.sentry.io/4504",
    "APP_DATABASE_URL": f"postgresql://app:{URL_PASSWORD}@db.internal:5432/app",
    "API_TOKEN": token(7),  # shorter than any minimum for values: masked by its name
}
COMPOSE_ENV = {"DB_PASS": token(20), "STRIPE_KEY": f"sk_live_{token(24)}"}  # the service's environment:
SHORT = {"MAIL_API_KEY": token(5)}  # too short to mask as a value anywhere: masked by its key
ENV_FILE = {"SMTP_PASSWORD": token(18), "WEBHOOK_SECRET": token(32)}  # ... and its env_file
SECRETS = {  # [secrets], from --secrets-file
    "API_KEY": token(40),
    "DB_SPECIAL_PASSWORD": f"Pq\"7\\ö€-{token(6)}<&>'x",  # JSON, XML and reprs each escape it
    "TLS_PRIVATE_KEY": PEM,
}
SHAPES = {  # the credentials to look for, by what they are
    **{name: CALLER[name] for name in ("PGPASS", "SLACK_WEBHOOK_URL", "SENTRY_DSN", "API_TOKEN")},
    "password in APP_DATABASE_URL": URL_PASSWORD,
    **COMPOSE_ENV,
    **ENV_FILE,
    **{name: SECRETS[name] for name in ("API_KEY", "DB_SPECIAL_PASSWORD")},
    **{f"PEM line {i}": line for i, line in enumerate(PEM_BODY)},
}

LEAKY_TESTS = """
import base64, json, os, sys
from urllib.parse import quote, quote_plus, urlsplit

NAMES = ["PGPASS", "SLACK_WEBHOOK_URL", "SENTRY_DSN", "APP_DATABASE_URL", "API_TOKEN", "API_KEY",
         "DB_SPECIAL_PASSWORD", "TLS_PRIVATE_KEY"]


def test_prints_every_credential_it_was_given():
    for name in NAMES:
        value = os.environ[name]
        print(f"raw {name}: {value}")
        print(f"stderr {name}: {value}", file=sys.stderr)
        print("json:", json.dumps({name: value}), json.dumps(value, ensure_ascii=False), "repr:", repr(value))
    special, key = os.environ["DB_SPECIAL_PASSWORD"], os.environ["API_KEY"]
    print("Authorization: Basic " + base64.b64encode(f"svc:{special}".encode()).decode())
    print("Authorization: Basic " + base64.b64encode(f"ci-user:{key}".encode()).decode())
    print("url: https://api.example.com/?p=" + quote(special, safe="") + "&q=" + quote_plus(special))
    print("hex:", special.encode().hex(), os.environ["API_TOKEN"].encode().hex(), key.encode().hex())
    print("pem line:", os.environ["TLS_PRIVATE_KEY"].splitlines()[2])
    print("the DSN's password alone:", urlsplit(os.environ["APP_DATABASE_URL"]).password)


def test_a_failing_assert_shows_a_secret_in_its_repr():
    assert os.environ["API_KEY"] == "not-the-key"


def test_a_failing_dict_comparison():
    assert {"token": os.environ["PGPASS"], "n": 1} == {"token": "x", "n": 1}


def test_a_failing_dsn_comparison_trims_the_common_start():
    dsn = os.environ["APP_DATABASE_URL"]
    assert dsn == dsn.replace("db.internal", "db.other")
"""


def forms(value: str) -> set[str]:
    """Every form to look for: raw, escaped (JSON both ways, repr, XML), base64 at the three
    byte offsets (standard and URL-safe; the characters that depend on the value alone), URL-
    encoded and hex."""
    found = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], repr(value)[1:-1]}
    found |= {html.escape(value), html.escape(value, quote=False), quote(value, safe=""), quote_plus(value)}
    found |= {value.encode().hex(), value.encode().hex().upper()}
    for offset in (0, 1, 2):
        encoded = base64.b64encode(bytes(offset) + value.encode()).decode()
        middle = encoded[-(-offset * 8 // 6) : (offset + len(value.encode())) * 8 // 6]
        found |= {middle, middle.replace("+", "-").replace("/", "_")}
    return {form for form in found if len(form) >= 7}


def pieces(value: str) -> set[str]:
    """Every 8-character piece of a long opaque value: what a truncated repr or a diff could
    leave. (A URL's pieces are not all secret: `https://`, `services/`.)"""
    if len(value) < 16 or "://" in value:
        return set()
    return {value[i : i + 8] for i in range(len(value) - 7)}


def write_project(project: Path) -> None:
    compose = project / "docker-compose.test.yml"
    environment = "".join(f"      {name}: {value}\n" for name, value in {**COMPOSE_ENV, **SHORT}.items())
    text = compose.read_text().replace(
        "      POSTGRES_DB: app\n", f"      POSTGRES_DB: app\n{environment}    env_file: [app.env]\n", 1
    )
    assert "env_file" in text
    compose.write_text(text)
    (project / "app.env").write_text("".join(f"{name}={value}\n" for name, value in ENV_FILE.items()))
    config = project / "ci-toolkit.toml"
    text = config.read_text().replace('paths = ["example/tests"]', 'paths = ["example/tests/test_leaky.py"]')
    text = text.replace(
        "[secrets]\n",
        '[secrets]\nDB_SPECIAL_PASSWORD = "/ci/test/special"\nTLS_PRIVATE_KEY = "/ci/test/tls_key"\n',
    )
    config.write_text(text)
    (project / "example" / "tests" / "test_leaky.py").write_text(LEAKY_TESTS)
    lines = [f"{name}={json.dumps(value, ensure_ascii=False)}\n" for name, value in SECRETS.items()]
    (project / "ci.env").write_text("".join(lines))


def scan(blobs: dict[str, bytes]) -> dict[str, list[str]]:
    """`where: [what]` for each shape (or piece of one) found in any blob."""
    wanted = {
        form.encode(): f"{shape} ({form!r})" for shape, value in SHAPES.items() for form in forms(value)
    }
    wanted |= {
        piece.encode(): f"piece of {shape} ({piece!r})" for shape, v in SHAPES.items() for piece in pieces(v)
    }
    return {
        where: found
        for where, data in blobs.items()
        if (found := [what for form, what in wanted.items() if form in data])
    }


def test_no_credential_in_any_form_reaches_anything_ci_toolkit_prints_or_writes(
    example_project: Path, tmp_path: Path
) -> None:
    write_project(example_project)
    summary, outputs, artifacts = tmp_path / "summary.md", tmp_path / "outputs.txt", tmp_path / "art"
    project = f"sec-redact-{random.token_hex(4)}"
    env = {
        **CALLER,
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_WORKSPACE": str(example_project),
    }
    args = ["integration-run", "--json", "--github", "--diagnostics", "always", "--project", project]
    args += ["--artifacts-dir", str(artifacts), "--secrets-file", "ci.env", "--", "-s"]
    result = run_toolkit(args, example_project, env)
    data = result.json()
    assert data["status"] == "tests_failed", result.output
    assert (data["tests"]["passed"], data["tests"]["failed"]) == (1, 3)
    run_dir = Path(data["artifacts_dir"])

    # `::add-mask::` lines are the runner's to consume (it never shows or stores them): the only
    # place a secret may be written raw, and only for [secrets] values.
    masks = [line for line in result.stderr.splitlines() if line.startswith("::add-mask::")]
    stderr = "\n".join(line for line in result.stderr.splitlines() if not line.startswith("::add-mask::"))
    blobs = {"stdout": result.stdout.encode(), "stderr": stderr.encode()}
    blobs |= {"GITHUB_STEP_SUMMARY": summary.read_bytes(), "GITHUB_OUTPUT": outputs.read_bytes()}
    files = sorted(path for path in artifacts.rglob("*") if path.is_file())
    blobs |= {str(path.relative_to(artifacts)): path.read_bytes() for path in files}
    hits = scan(blobs)
    count = sum(len(found) for found in hits.values())
    print(f"redaction scan: {len(SHAPES)} shapes, {len(blobs)} streams and files, {count} hits")
    for where, found in hits.items():
        print(f"  {where}: {', '.join(found[:5])}{' ...' if len(found) > 5 else ''}")

    assert {"inspect.json", "commands.json", "env.json", "junit.xml", "pytest.log"} <= {p.name for p in files}
    assert len(masks) == 2 + len(PEM_BODY) + 2  # API_KEY, the special password, the PEM's lines
    assert set(masks) <= set(lines_outside_fences(result.stderr))  # where the runner obeys them
    log = (run_dir / "pytest.log").read_text()
    assert "raw PGPASS: ***" in log and "the DSN's password alone: ***" in log  # printed, and masked
    inspected = json.loads((run_dir / "inspect.json").read_text())
    postgres = next(c for c in inspected if c["Config"]["Image"].startswith("postgres"))
    assert {"DB_PASS=***", "STRIPE_KEY=***", "SMTP_PASSWORD=***", "MAIL_API_KEY=***"} <= set(
        postgres["Config"]["Env"]
    )
    short = SHORT["MAIL_API_KEY"]
    for name in ("inspect.json", "commands.json"):
        text = (run_dir / name).read_text()
        assert f"={short}" not in text and f'\\"{short}\\"' not in text and f'"{short}"' not in text, name
    assert count == 0, f"{count} leaks: {sorted(hits)}"
    assert_no_leaks(project)
