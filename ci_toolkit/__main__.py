from __future__ import annotations

import sys


def main() -> None:
    from ci_toolkit.cli import app

    sys.exit(app())


if __name__ == "__main__":
    main()
