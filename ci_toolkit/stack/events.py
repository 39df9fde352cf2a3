"""The engine's events for one compose project, recorded live while a run goes on (the engine
keeps only a short history): whether a container was signalled rather than dying by itself."""

from __future__ import annotations

import contextlib
from typing import Any

from ci_toolkit.stack.engine import PROJECT_LABEL, Engine


class EventRecorder:
    """Records the engine's events for one compose project while a run goes on.

    The engine keeps only a short in-memory event history, so events are streamed live
    from `up` on rather than asked for afterwards.
    """

    def __init__(self, engine: Engine, project: str) -> None:
        import threading

        self.events: list[dict[str, Any]] = []
        self._stream: Any = None
        self._engine = engine
        self._project = project
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> EventRecorder:
        self._stream = self._engine.api.events(
            filters={"label": f"{PROJECT_LABEL}={self._project}"}, decode=True
        )
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            for event in self._stream:
                self.events.append(event)
        except Exception:  # the stream ends with an error when closed; events so far are kept
            return

    def was_signalled(self, container_id: str) -> bool:
        """Did someone send this container a signal (a `kill` event: `docker stop`, or an engine
        shutting down) rather than its process ending by itself?"""
        return any(e.get("Action") == "kill" and e.get("id") == container_id for e in list(self.events))

    def stop(self) -> list[dict[str, Any]]:
        if self._stream is not None:
            with contextlib.suppress(Exception):  # closing a dead stream is fine
                self._stream.close()
            self._thread.join(timeout=2)
        return list(self.events)
