"""Shards: one collection split over N matrix jobs by recorded durations, then merged.

spec (`--shard K/N`), ledger (durations.json: what each test costs, updated after every run,
merged over shards), plan (`shard plan`: the matrix cells, and what each shard is expected to
take), merge (`report merge` over shards; coverage and testcases: its coverage.py and JUnit
sides). The split itself is `ci_toolkit.pytest_shard.partition`, inside pytest, where the
collection is taken once.
"""
