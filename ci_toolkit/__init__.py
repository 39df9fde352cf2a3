"""ci-toolkit: integration tests against a real Docker Compose stack, locally and in CI."""

from __future__ import annotations

__version__ = "0.1.0"
