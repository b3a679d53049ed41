"""`python -m consolescrape` and the `consolescrape` script.

`status --line` (a status bar runs it every second or two) and `sync` (cron and hooks) are
answered here, before the command layer (typer) is imported (`fast`). Everything else, and any
form of those the fast path does not take (a `--help`, a bad value), goes to `cli`.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    from consolescrape import fast

    try:
        code = fast.answer(sys.argv[1:])
    except BrokenPipeError:
        # The reader of stdout went away (`… | head -c1`): quietly, exit 1, as typer's door
        # answers it; stdout points nowhere so that Python's last flush does not complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    if code is not None:
        raise SystemExit(code)
    from consolescrape import cli

    cli.main()


if __name__ == "__main__":
    main()
