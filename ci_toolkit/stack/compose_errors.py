"""What a failed `docker compose up`/`create` means (a busy host port, an image that cannot be
pulled, a timeout), in words, with what to do."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ci_toolkit.errors import CommandError, InfrastructureError


def explain_up_failure(
    project: str, exc: CommandError, images: Mapping[str, str] | None = None
) -> InfrastructureError:
    """Turn compose's error text into what happened and what to do."""
    text = f"{exc.stderr}\n{exc.stdout}"
    if exc.timeout is not None:
        return InfrastructureError(
            f"`docker compose up` did not finish within {exc.timeout:g}s for project {project}",
            hint="raise timeouts.up; slow image pulls are the usual cause",
        )
    port = re.search(r"(?:Bind for |listen tcp4? |bind for )([\d.:\[\]]+?):(\d+)", text)
    if port or "port is already allocated" in text or "address already in use" in text:
        where = f" {port.group(1)}:{port.group(2)}" if port else ""
        return InfrastructureError(
            f"a host port{where} is already in use, so compose could not start the stack",
            hint='set ports = "dynamic" in the ci-toolkit config (every published port moves to 127.0.0.1 on '
            'a free host port), or publish "127.0.0.1::PORT" in the compose file, or stop what holds it '
            "(`ss -ltnp`)",
        )
    pulling = "pull access denied" in text or "failed to resolve" in text or "no such host" in text
    if pulling or "manifest unknown" in text or "not found: manifest" in text:
        service = re.search(r"(?m)^\s*(\S+)\s+Error\b", exc.stderr)
        name = service.group(1) if service else None
        image = (images or {}).get(name or "", "") or "an image"
        which = f" for service {name}" if name else ""
        return InfrastructureError(
            f"could not pull {image}{which}: it is not available locally and the registry "
            "cannot be reached or does not have it",
            hint="check the image name and tag in the compose file, `docker login` for a private registry, "
            "or pull it beforehand",
        )
    return InfrastructureError(f"`docker compose up` failed for project {project}:\n{indent_tail(text)}")


def indent_tail(text: str) -> str:
    """The last 15 lines of a tool's output, indented under a message."""
    return "\n".join(f"    {line}" for line in text.strip().splitlines()[-15:])
