"""`compose.pull` failures name the service and say what compose said (no registry here: a pull
of an image that cannot exist is the only pull that can run)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ci_toolkit.errors import InfrastructureError
from ci_toolkit.stack import compose

pytestmark = pytest.mark.integration


@pytest.mark.usefixtures("engine_available")
def test_pull_failure_names_the_service_and_what_compose_said(tmp_path: Path) -> None:
    """Needs the engine (the one test here that does); creates nothing, so nothing to remove."""
    image = f"citk-no-such-registry.invalid/ghost/never-{uuid.uuid4().hex[:8]}:0"
    (tmp_path / "compose.yml").write_text(f"services:\n  ghost:\n    image: {image}\n")
    with pytest.raises(InfrastructureError) as raised:
        compose.pull([tmp_path / "compose.yml"], [], tmp_path, {}, ["ghost"], timeout=60)
    message = str(raised.value)
    assert message.startswith("could not pull the image of service ghost:")
    assert "citk-no-such-registry.invalid" in message  # compose's own error, indented
    assert raised.value.hint and "image name and tag" in raised.value.hint
    compose.pull([tmp_path / "compose.yml"], [], tmp_path, {}, [], timeout=60)  # nothing asked: nothing run
