"""`python -m consolescrape` and the `consolescrape` script.

`status --line` is what a status bar runs every second or two: it is answered here, before the
command layer (typer) is imported. Everything else, and any `status --line` the fast path does
not take (a `--help`, a bad value), goes to `cli`.
"""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["status"]:
        from consolescrape import status_line

        code = status_line.fast(args[1:])
        if code is not None:
            raise SystemExit(code)
    from consolescrape import cli

    cli.main()


if __name__ == "__main__":
    main()
