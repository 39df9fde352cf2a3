"""The third-party actions the workflow `init` writes uses, each pinned by its full commit SHA.

Copied from the pin table (../shared/action-pins.md, "latest" column; its copy in this
repository is tests/unit/workflows/action_pins.json, and a test keeps the two equal). A tag can
be moved to other code; a commit cannot, so a user's workflow runs exactly what was reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pin:
    action: str  # owner/name
    sha: str  # the tag's commit, 40 hex
    tag: str  # the release, for the reader (and Dependabot): `# v7.0.1`

    @property
    def uses(self) -> str:
        """The value of a step's `uses:` with the tag as a comment."""
        return f"{self.action}@{self.sha} # {self.tag}"


CHECKOUT = Pin("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1")
SETUP_PYTHON = Pin("actions/setup-python", "5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0")
UPLOAD_ARTIFACT = Pin("actions/upload-artifact", "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0")

PINS = (CHECKOUT, SETUP_PYTHON, UPLOAD_ARTIFACT)
