"""Benchmarks for ci-toolkit (GitHub issues 7, 13, 14 and 18). Entry point: `python benchmarks/run.py`.

run.py       the command line: which suites, how many reps, the rep loop, cleaning up
variants.py  readiness of the bundled stack, measured several ways side by side
health_gated.py  the bundled stack plus a service gated on postgres' healthcheck (30 s, 5 s):
             ci-toolkit, the physical limit and `up --wait`, side by side
suites.py    overhead of a whole run, CLI start-up, concurrent runs
shards.py    4 shards of a generated suite (shards_suite.py) from a recorded ledger: ci-toolkit's
             split and pytest-split's, every shard run for real
install.py   `actions/setup` run by act on this host: uv and pip, each cold and warm (issue 14)
badges.py history_store.py  badges per second and local history store writes per second (issue 15)
init_batch.py              `init --batch` over 20 bare repositories: worst one, batch vs serial (issue 16)
stack.py     scratch copy of the bundled example, compose projects, timed commands
probing.py   host ports, protocol pollers, verification with real clients, postgres' own log
figures.py   from samples to figures: statistics, ratios, breakdowns
targets.py   the targets and the reference figures; which targets a run meets
machine.py   the machine and the versions measured on
results.py   the results document: assembled, written as results.json and RESULTS.md
markdown.py  RESULTS.md from the results (findings.py writes its findings from the figures;
             markdown_gated.py, markdown_reuse.py, markdown_shards.py and markdown_install.py their
             suites' sections; tables.py the Markdown formatting)

Each module imports only modules below it in its own chain, never back up: run -> health_gated
-> variants | suites -> probing | stack; run -> shards -> shards_suite | stack; run -> results
-> install -> figures | stack; results -> figures | machine | markdown -> findings |
markdown_gated | markdown_reuse | markdown_shards | markdown_install -> tables | targets.

What of ci_toolkit the benchmarks use: its command line wherever that is enough (what is measured
is what a user runs), otherwise only these public names. tests/unit/test_benchmarks_imports.py
checks that the imports in benchmarks/*.py are exactly these, none of them underscore-private.

  CLI: `ci-toolkit integration-run --json`, `stack up --wait --json`, `stack down`,
       `config check`, `--help`, `version`, `init --batch --push --json`
  ci_toolkit.config.load                        the example's config: services, env defaults,
                                                migrations (directory, table), pytest settings
  ci_toolkit.config.ServiceCheck                one service's check (kind, port, credentials, ...)
  ci_toolkit.stack.engine.Engine                connect(); containers(project): id, service, host, ports;
                                                inspect(id) and start(id) (the health-gated limit)
  ci_toolkit.stack.probes.probe                 one protocol probe, the one ci-toolkit's readiness uses;
  ci_toolkit.stack.probes.NotReady              ... raised when the service does not answer yet
  ci_toolkit.pipeline.pytest_run.build_command  the exact pytest command line a run starts
  ci_toolkit.pytest_shard.partition             the one balancing algorithm (what the plugin applies)
  ci_toolkit.output.badge                       the badges `ci-toolkit badge` writes (badges.py)
  ci_toolkit.history.store.open_store           a history store (history_store.py: writes per second)
  ci_toolkit.history.model.RunRecord            ... the records it keeps
  ci_toolkit.history.model.TestResult
  ci_toolkit.pytest_shard.estimate              a shard's expected seconds (each module's setup once)
  ci_toolkit.pytest_shard.digest                a collection's digest, as a shard's report gives it
  ci_toolkit.shard.plan.balance                 slowest shard / mean, as `report merge` reports it
  ci_toolkit.shard.ledger.Ledger                the durations ledger: updated(phases, collected), costs()
  ci_toolkit.shard.ledger.read_phases           the plugin's phase record (CI_TOOLKIT_PHASES) -> timings
  ci_toolkit.shard.ledger.read_collected        the plugin's collection (CI_TOOLKIT_COLLECTED) -> ids
  ci_toolkit.shard.ledger.save                  durations.json, written as ci-toolkit writes it
"""
