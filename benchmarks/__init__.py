"""Benchmarks for ci-toolkit (GitHub issue 7). Entry point: `python benchmarks/run.py`.

stack.py     scratch copy of the bundled example, compose projects, pollers, verification
variants.py  readiness of the bundled stack, measured several ways side by side
suites.py    overhead, CLI start-up, teardown and concurrency
report.py    statistics, targets, RESULTS.md and results.json
run.py       the command line: which suites, how many reps, where results go
"""
