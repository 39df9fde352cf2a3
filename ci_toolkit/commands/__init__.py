"""Command implementations: plain functions with typed arguments, returning an exit code.

The CLI module parses arguments and calls these; nothing here parses argv.
"""
