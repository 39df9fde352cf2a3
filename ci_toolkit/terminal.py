"""Output that survives its terminal: a closed terminal window or a dropped SSH session turns
writes to stdout/stderr into EIO (a hung-up tty) or EPIPE (a closed pipe). Teardown, the
diagnostics bundle and the result must not die of that, so once a stream is gone, writes to
it are dropped silently and the run carries on; the artifacts dir still gets everything.
"""

from __future__ import annotations

import errno
import sys
from typing import Any, TextIO

GONE = frozenset({errno.EIO, errno.EPIPE, errno.ENXIO, errno.EBADF})


class TolerantStream:
    """A text stream whose writes stop (quietly) once the other end has gone."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._inner.write(text)
            except OSError as exc:
                self._lost(exc)
            except ValueError:  # "I/O operation on closed file"
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._inner.flush()
            except OSError as exc:
                self._lost(exc)
            except ValueError:
                self.gone = True

    def isatty(self) -> bool:
        if self.gone:
            return False
        try:
            return self._inner.isatty()
        except (OSError, ValueError):
            return False

    def _lost(self, exc: OSError) -> None:
        if exc.errno not in GONE:
            raise exc
        self.gone = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def install() -> None:
    """Wrap sys.stdout and sys.stderr (once) so that a lost terminal never raises."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, TolerantStream):
            setattr(sys, name, TolerantStream(stream))
