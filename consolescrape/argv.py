"""Options read without typer, for the commands answered before it is imported (`fast`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def scan(
    args: Sequence[str], valued: Collection[str], flags: Collection[str]
) -> list[tuple[str, str]] | None:
    """`args` as (option, value) pairs, a flag's value "": each word a known flag, or a valued
    option with its value (`--opt v` or `--opt=v`). None at the first word that is neither, or
    a valued option left without its value."""
    found: list[tuple[str, str]] = []
    words = list(args)
    while words:
        word = words.pop(0)
        name, eq, value = word.partition("=")
        if not eq and name in valued:
            if not words:
                return None
            value = words.pop(0)
        elif (eq and name not in valued) or (not eq and name not in flags):
            return None
        found.append((name, value))
    return found
