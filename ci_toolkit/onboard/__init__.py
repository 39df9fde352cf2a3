"""Onboarding: `ci-toolkit init` writes a repository's setup (config, maybe a compose file, the
tier-1 workflow), all or nothing; `init --batch` does it over many git remotes, with rollback.

model (InitOptions, FileChange, InitPlan), facts (what the repository has), infer (compose model
-> service checks, exports, migrations, pytest paths), compose_template (`--with`), config_text
(tomlkit: `[tool.ci-toolkit]` or ci-toolkit.toml), workflow (integration-tests.yml), plan (the
one function that decides every file), changes (diff, all-or-nothing apply), git + batch.
"""
