"""Benchmarks for ci-toolkit (GitHub issue 7). Entry point: `python benchmarks/run.py`.

run.py       the command line: which suites, how many reps, where the results go
variants.py  readiness of the bundled stack, measured several ways side by side
suites.py    overhead of a whole run, CLI start-up, concurrent runs
stack.py     scratch copy of the bundled example, compose projects, timed commands
probing.py   host ports, protocol pollers, verification with real clients, postgres' own log
report.py    statistics, targets, the machine, results.json
markdown.py  RESULTS.md (findings.py writes its findings from the figures)
"""
