"""Run history: every run's results kept in a store, and what they say across runs.

model    RunRecord (one run: counts, coverage, phases, every test's outcome and time, where it ran)
record   a finished run's artifacts dir -> RunRecord (run.json, junit.xml, phases.tsv, selection.json)
identity a run's id: made at the run's end and kept in run.json, else from run.json's content
origin   where it ran: commit (`<sha>-dirty` for a changed working tree), branch, workflow, run URL
store    open_store(uri): the Store protocol; local (a directory + SQLite index) and s3 (s3://bucket/prefix)
queries  flaky, slowest, trend, durations, the newest workflow run: pure functions over records
"""
