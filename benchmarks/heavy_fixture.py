"""The reuse suites' project, written at benchmark time: a heavy migration set of 300
`NNN_name.sql` files like a real project's (tables with constraints and foreign keys, seed rows
from generate_series, indexes, backfills, a table rewrite, views, materialized views, functions
and triggers), and the workdir the suites run it in.

    write(directory)      the set (same bytes every time: nothing random, nothing dated)
    workdir(dest, ...)    the project: compose file, the heavy set or the example's migrations,
                          config, and tests that stamp their start and check a reset
    calibrate(reps)       `ci-toolkit integration-run --json` on it: the migrate phases

Calibrated with `python benchmarks/heavy_fixture.py --calibrate` (the `migrate` phase of the JSON
result) to 10-15 s here (real projects report 10-60 s): about 10-13 s at load 1-3 on this
shared 2-core machine, up to ~17 s when it is busier. The database is about 70 MB: the work is in
the seeds (per-row foreign-key checks and trigger, md5 and jsonb), index builds and backfills,
and most tables are small (every tenth is a big one).
"""

from __future__ import annotations

import json
import secrets
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script (--calibrate): make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stack import CITK, COMPOSE_FILE, REPO, timed

MODULES = 50  # each module: one table and the 6 migrations that build it
STEPS = ("create", "functions", "seed", "index", "backfill", "views")
MIGRATIONS = MODULES * len(STEPS)
# Rows seeded per module: most tables are small, every tenth is a big one (calibrated: see --calibrate).
SMALL_ROWS = 2_300
BIG_ROWS = 24_000
ACCOUNTS = 2_000  # module 1's table; every other table references it


def rows(module: int) -> int:
    return BIG_ROWS if module % 10 == 0 else SMALL_ROWS


def table(module: int) -> str:
    return f"ledger_{module:02d}"


# After migrating, the seeded data must give exactly this (the tests check it, so a restored
# snapshot proves it holds the migrated data).
SENTINEL = (
    f"SELECT count(*) FROM {table(MODULES)} WHERE note IS NOT NULL",
    rows(MODULES) // 3,
)


def write(directory: Path) -> list[Path]:
    """The whole set into `directory` (created; files already there are overwritten)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for module in range(1, MODULES + 1):
        for number, step in enumerate(STEPS, (module - 1) * len(STEPS) + 1):
            path = directory / f"{number:03d}_{step}_{table(module)}.sql"
            path.write_text(SQL[step](module))
            written.append(path)
    return written


ACCOUNTS_TABLE = """\
CREATE TABLE accounts (
    id     integer PRIMARY KEY,
    email  text NOT NULL UNIQUE,
    region text NOT NULL CHECK (region IN ('eu', 'us', 'apac'))
);
"""
ACCOUNTS_SEED = f"""\
INSERT INTO accounts (id, email, region)
SELECT g, 'user' || g || '@example.com', (ARRAY['eu', 'us', 'apac'])[1 + g % 3]
FROM generate_series(1, {ACCOUNTS}) AS g;
"""


def _create(m: int) -> str:
    t = table(m)
    parent = f",\n    parent_id  bigint REFERENCES {table(m - 1)} (id)" if m > 1 else ""
    return (ACCOUNTS_TABLE if m == 1 else "") + (
        f"CREATE TABLE {t} (\n"
        "    id         bigint PRIMARY KEY,\n"
        "    account_id integer NOT NULL REFERENCES accounts (id),\n"
        "    code       text NOT NULL,\n"
        "    amount     numeric(12, 2) NOT NULL CHECK (amount >= 0),\n"
        "    status     text NOT NULL CHECK (status IN ('new', 'paid', 'void')),\n"
        "    booked_at  timestamptz NOT NULL,\n"
        f"    payload    jsonb NOT NULL DEFAULT '{{}}'{parent}\n"
        ");\n"
        f"COMMENT ON TABLE {t} IS 'ledger {m}';\n"
    )


def _functions(m: int) -> str:
    """Before the seed: every row seeded or backfilled later goes through the trigger."""
    t = table(m)
    return (
        f"CREATE FUNCTION {t}_check() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "    NEW.code := lower(NEW.code);\n"
        "    IF NEW.status = 'void' AND NEW.amount > 900 THEN\n"
        "        NEW.amount := 900;\n"
        "    END IF;\n"
        "    RETURN NEW;\n"
        "END $$;\n"
        f"CREATE TRIGGER {t}_check BEFORE INSERT OR UPDATE ON {t}\n"
        f"    FOR EACH ROW EXECUTE FUNCTION {t}_check();\n"
        f"CREATE FUNCTION {t}_balance(account integer) RETURNS numeric LANGUAGE sql STABLE AS\n"
        f"$$ SELECT coalesce(sum(amount), 0) FROM {t} WHERE account_id = account AND status = 'paid' $$;\n"
    )


def _seed(m: int) -> str:
    t = table(m)
    parent = (", parent_id", f", 1 + (g * 7) % {rows(m - 1)}") if m > 1 else ("", "")
    return (ACCOUNTS_SEED if m == 1 else "") + (
        f"INSERT INTO {t} (id, account_id, code, amount, status, booked_at, payload{parent[0]})\n"
        f"SELECT g, 1 + (g * {m}) % {ACCOUNTS}, substr(md5('{t}' || g), 1, 12),\n"
        "       ((g * 37) % 100000) / 100.0, (ARRAY['new', 'paid', 'void'])[1 + g % 3],\n"
        "       timestamptz '2024-01-01' + g * interval '1 second',\n"
        f"       jsonb_build_object('n', g, 'tag', 'm{m}'){parent[1]}\n"
        f"FROM generate_series(1, {rows(m)}) AS g;\n"
    )


def _index(m: int) -> str:
    t = table(m)
    return (
        f"CREATE UNIQUE INDEX {t}_code ON {t} (code, id);\n"
        f"CREATE INDEX {t}_account ON {t} (account_id, booked_at);\n"
        f"CREATE INDEX {t}_new ON {t} (booked_at) WHERE status = 'new';\n"
    )


def _backfill(m: int) -> str:
    t = table(m)
    return (
        f"ALTER TABLE {t} ADD COLUMN note text;\n"
        f"UPDATE {t} l SET note = 'reviewed ' || l.status || ' in '\n"
        f"    || (SELECT a.region FROM accounts a WHERE a.id = l.account_id) WHERE l.id % 3 = 0;\n"
        "-- amounts in sub-cents from now on: a type change rewrites the table and its indexes\n"
        f"ALTER TABLE {t} ALTER COLUMN amount TYPE numeric(14, 4);\n"
        f"ANALYZE {t};\n"
    )


def _views(m: int) -> str:
    t = table(m)
    return (
        f"CREATE VIEW {t}_open AS SELECT id, account_id, amount FROM {t} WHERE status = 'new';\n"
        f"CREATE MATERIALIZED VIEW {t}_totals AS\n"
        "    SELECT a.region, l.status, count(*) AS n, sum(l.amount) AS total\n"
        f"    FROM {t} l JOIN accounts a ON a.id = l.account_id GROUP BY a.region, l.status;\n"
        f"CREATE UNIQUE INDEX {t}_totals_key ON {t}_totals (region, status);\n"
    )


SQL = {
    "create": _create,
    "functions": _functions,
    "seed": _seed,
    "index": _index,
    "backfill": _backfill,
    "views": _views,
}


# -- the workdir the reuse suites run on ---------------------------------------------------------

BENCH_TABLE = "CREATE TABLE bench_marks (run text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());\n"
FIRST_TEST_FILE = "BENCH_FIRST_TEST_FILE"  # env: where the conftest writes when the first test starts
RUN_ID = "BENCH_RUN"  # env: this run's name, in the row, key and stream its tests write
DB_SIZE_FILE = "BENCH_DB_SIZE_FILE"  # env: where the tests write the database's size (bytes)

CONFIG = """\
# The reuse benchmarks' project: the bundled stack, {what} migrations, tests that check a reset.
compose_files = ["docker-compose.test.yml"]
artifacts_dir = "ci-artifacts"
project_prefix = "{prefix}"  # starts every project and lease name: the benchmark's leftover check
migrations = {{ directory = "migrations", dsn = "{{export.DATABASE_URL}}" }}
pytest = {{ paths = ["bench_tests"], args = ["-q", "-p", "no:cacheprovider"] }}
timeouts = {{ up = 120, ready = 60, migrate = 180, test = 300, down = 60 }}

[services]
postgres = {{ kind = "postgres", port = 5432, user = "test", password = "test", database = "app" }}
redis = {{ kind = "redis", port = 6379 }}
nats = {{ kind = "nats", port = 4222, jetstream = true, monitor_port = 8222 }}

[export]
DATABASE_URL = "postgresql://test:test@{{postgres.host}}:{{postgres.port:5432}}/app"
REDIS_URL = "redis://{{redis.host}}:{{redis.port:6379}}/0"
NATS_URL = "nats://{{nats.host}}:{{nats.port:4222}}"
"""

CONFTEST = f'''"""Stamps the start of the first test into the file ${FIRST_TEST_FILE} names: its
time.time(), then when this pytest process started (from /proc; "" where there is none)."""

from __future__ import annotations

import os
import time

import pytest

_stamped: list[bool] = []


def _process_started() -> str:
    """Unix time this process started: its age from /proc/self/stat (clock ticks since boot)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return ""
    age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    return repr(time.time() - age)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    path = os.environ.get("{FIRST_TEST_FILE}")
    if path and not _stamped:
        _stamped.append(True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(f"{{time.time()!r}} {{_process_started()}}")
'''

TESTS = '''"""Run N finds the stack as migrations left it: none of run N-1's row, key, stream, consumer or
KV bucket; then it leaves its own for run N+1 to miss. Clients are imported in the tests, so the
first test's timestamp measures ci-toolkit and pytest, not these imports."""

from __future__ import annotations

import asyncio
import os

RUN = os.environ.get("{run_id}", "manual")


def test_the_migrated_schema_and_data_are_there() -> None:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        applied = conn.execute("SELECT count(*) FROM ci_toolkit_migrations").fetchone()
        assert applied == ({migrations},), f"migrations recorded: {{applied}}"
        sentinel = conn.execute({query!r}).fetchone()
        assert sentinel == ({value},), f"the sentinel query gave {{sentinel}}, not {value}"
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    if os.environ.get("{size_file}") and size:
        with open(os.environ["{size_file}"], "w", encoding="utf-8") as fh:
            fh.write(str(size[0]))


def test_postgres_has_no_row_of_an_earlier_run() -> None:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        left = [row[0] for row in conn.execute("SELECT run FROM bench_marks")]
        assert left == [], f"bench_marks still has rows of earlier runs: {{left}}"
        conn.execute("INSERT INTO bench_marks (run) VALUES (%s)", (RUN,))


def test_redis_has_no_key_of_an_earlier_run() -> None:
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        left = client.keys("bench:*")
        assert left == [], f"redis still has keys of earlier runs: {{left}}"
        client.set(f"bench:{{RUN}}", RUN)
    finally:
        client.close()


def test_nats_has_no_stream_of_an_earlier_run() -> None:
    import nats

    async def check_and_write() -> None:
        nc = await nats.connect(os.environ["NATS_URL"])
        try:
            js = nc.jetstream()
            left = [info.config.name for info in await js.streams_info()]
            assert left == [], f"JetStream still has streams of earlier runs: {{left}}"
            stream = f"BENCH_{{RUN}}"
            await js.add_stream(name=stream, subjects=[f"bench.{{RUN}}"])
            await js.publish(f"bench.{{RUN}}", RUN.encode())
            await js.add_consumer(stream, durable_name="reader")
            kv = await js.create_key_value(bucket=f"bench_{{RUN}}")
            await kv.put("run", RUN.encode())
        finally:
            await nc.close()

    asyncio.run(check_and_write())
'''


def workdir(dest: Path, *, heavy: bool, project_prefix: str = "bench-calibrate") -> Path:
    """A project in `dest`: the bundled compose file, the heavy set (or the example's two
    migrations) plus `bench_marks`, a config without secrets or coverage, the reset-checking tests."""
    migrations = dest / "migrations"
    if heavy:
        write(migrations)
        query, value = SENTINEL
    else:
        migrations.mkdir(parents=True)
        for path in sorted((REPO / "migrations").glob("*.sql")):
            shutil.copy(path, migrations / path.name)
        query, value = "SELECT count(*) FROM customers", 2
    count = len(list(migrations.glob("*.sql")))
    (migrations / f"{count + 1:03d}_bench_marks.sql").write_text(BENCH_TABLE)
    shutil.copy(REPO / COMPOSE_FILE, dest / COMPOSE_FILE)
    (dest / "ci-toolkit.toml").write_text(
        CONFIG.format(what="the heavy" if heavy else "the example's", prefix=project_prefix)
    )
    tests = dest / "bench_tests"
    tests.mkdir()
    (tests / "conftest.py").write_text(CONFTEST)
    (tests / "test_state.py").write_text(
        TESTS.format(run_id=RUN_ID, size_file=DB_SIZE_FILE, migrations=count + 1, query=query, value=value)
    )
    return dest


def calibrate(reps: int = 3) -> list[float]:
    """`ci-toolkit integration-run --json` on a heavy workdir, `reps` times: its migrate phases."""
    seconds = []
    with tempfile.TemporaryDirectory(prefix="bench-calibrate-") as scratch:
        where = workdir(Path(scratch) / "heavy", heavy=True)
        for rep in range(reps):
            project = f"bench-calibrate-{secrets.token_hex(3)}"
            _, done = timed([CITK, "integration-run", "--json", "--project", project], where)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            migrate = next(p["seconds"] for p in result["phases"] if p["name"] == "migrate")
            print(f"rep {rep + 1}: migrate {migrate:.2f} s, {result['status']}", flush=True)
            seconds.append(migrate)
    return seconds


if __name__ == "__main__":
    if sys.argv[1:] != ["--calibrate"]:
        sys.exit(f"usage: python {sys.argv[0]} --calibrate")
    print(f"median migrate: {statistics.median(calibrate()):.2f} s")
