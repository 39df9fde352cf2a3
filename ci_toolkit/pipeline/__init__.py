"""Tier 2 and the steps tier 3 reuses: the run's context (`context`), what it has produced
(`state`), the steps (`steps`), their one order and teardown (`sequence`), and what the steps
use — validation (`checks`), migrations, the pytest step (`pytest_run`), artifacts, the
diagnostics bundle, the result (`outcome`) and the record of a kept stack (`saved_stack`).

Modules are imported explicitly (`from ci_toolkit.pipeline import sequence`); this package
imports nothing itself.
"""
