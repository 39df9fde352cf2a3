"""Fast re-runs: a stack kept between runs as a lease (the local loop) and snapshots of the
migrated stack (cold CI runs), both keyed by the stack's identity.

    identity   what a stack is made of (compose model, image IDs, migrations, env, version)
    lease      one kept stack per project, held by one run at a time (a file lock)
    reset      back to "just migrated" before the tests: Postgres template, Redis, NATS, hooks
    snapshot   the migrated data as checksummed archives; save/load for actions/cache; LRU prune
    paths      where leases and snapshots are kept on this machine
"""
