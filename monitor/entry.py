"""The `monitor` command: a Ctrl-C while the program is still loading exits quietly (130).

``monitor.cli`` imports SQLAlchemy, httpx, APScheduler and the rest, which takes a second or
two; a KeyboardInterrupt then would print a traceback, before ``cli.main`` could turn it into
an exit status.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from monitor.cli import main as cli_main
    except KeyboardInterrupt:
        sys.exit(130)
    cli_main()
