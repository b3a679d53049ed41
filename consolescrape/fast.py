"""Commands answered before typer is imported, because something runs them often and waits.

`status --line` is what a status bar runs every second or two (`status_line.fast`); `sync` is
what cron and hooks run, and its cost should be the POST, not the command layer (typer and the
options of eleven commands are a quarter of it). Each takes only its plain forms here; anything
else (`--help`, a repeated or odd option, a value that looks like an option…) returns None and
goes on to typer, which answers it with its own messages: the same command either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from consolescrape.argv import scan

_SYNC_VALUED = {"--file", "--home", "--env-file"}
_SYNC_FLAGS = {"--json", "--quiet", "-q", "--verbose", "-v"}


def sync(args: Sequence[str]) -> int | None:
    """`consolescrape sync <args>`: its exit code, or None when typer should answer."""
    pairs = scan(args, _SYNC_VALUED, _SYNC_FLAGS)
    if pairs is None:
        return None
    paths: dict[str, Path] = {}
    flags = set()
    for name, value in pairs:
        if name not in _SYNC_VALUED:
            flags.add(name)
        elif name in paths or not value or value.startswith("-"):
            return None  # typer's answer: a second --home is refused, a second --file wins
        else:
            paths[name] = Path(value)

    from consolescrape.commands import sync as command
    from consolescrape.execution import Common, execute

    common = Common(
        home=paths.get("--home"),
        env_file=paths.get("--env-file"),
        json="--json" in flags,
        quiet=bool(flags & {"--quiet", "-q"}),
        verbose=bool(flags & {"--verbose", "-v"}),
    )
    return execute("sync", common, command.job(paths.get("--file")))


def answer(args: Sequence[str]) -> int | None:
    """The exit code of `consolescrape <args>` when it is answered here, else None."""
    if args[:1] == ["status"]:
        from consolescrape import status_line

        return status_line.fast(args[1:])
    if args[:1] == ["sync"]:
        return sync(args[1:])
    return None
