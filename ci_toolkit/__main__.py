from __future__ import annotations

import logging
import os
import sys


def main() -> None:
    from ci_toolkit import terminal
    from ci_toolkit.cli import app

    terminal.install()  # a closed terminal (SIGHUP, EIO) must not stop teardown

    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if "coverage" in sys.modules:  # measured under coverage: let it write its data at exit
        sys.exit(code)
    # Everything is written and torn down by now; interpreter shutdown (module teardown, a
    # final GC over the docker SDK, boto3, rich) only costs time: 0.06-0.2 s per command.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
