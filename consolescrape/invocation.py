"""What a command was started with: usage errors under --json, and advice that repeats the
options the command ran with (`--home`, `--env-file`)."""

from __future__ import annotations

import sys
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, NoReturn

import typer

# typer bundles its own Click (typer >= 0.26): its exceptions live there.
from typer._click import Context
from typer._click.exceptions import UsageError
from typer.core import TyperGroup

from consolescrape.status_line import VALUED

__all__ = ["Commands", "UsageError", "one_home", "with_interval"]


def one_home(homes: list[Path] | None, command: str) -> Path | None:
    """The one --home of a command that takes one; a second is a usage error, not ignored."""
    if homes and len(homes) > 1:
        given = ", ".join(str(home) for home in homes)
        raise UsageError(
            f"--home was given {len(homes)} times ({given}): `consolescrape {command}` works on "
            "one home (only `status` shows several)"
        )
    return homes[0] if homes else None


def _wants_json(args: list[str]) -> bool:
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def _tell_as_json(exc: UsageError, args: list[str], commands: Collection[str]) -> NoReturn:
    """The usage error as the one JSON object on stdout (and, as always, on stderr)."""
    from consolescrape.errors import ExitCode
    from consolescrape.output import print_result

    exc.show()  # the usage text and the message, on stderr as without --json
    command = next((arg for arg in args if arg in commands), None)
    hint = f"consolescrape {command} --help" if command else "consolescrape --help"
    print_result(
        command or "consolescrape",
        int(ExitCode.USAGE),
        error={"message": exc.format_message(), "advice": f"see `{hint}`"},
    )
    sys.stderr.flush()
    raise typer.Exit(int(ExitCode.USAGE))


class Commands(TyperGroup):
    """The app's commands; a usage error under --json is also the one JSON object on stdout."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: Context | None = None,
        **extra: Any,
    ) -> Context:
        given = list(args)
        try:
            return super().make_context(info_name, args, parent, **extra)
        except UsageError as exc:  # before any command: `consolescrape --bogus --json`
            if not _wants_json(given):
                raise
            _tell_as_json(exc, given, self.commands)

    def invoke(self, ctx: Context) -> Any:
        args = [*ctx._protected_args, *ctx.args]
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            if not _wants_json(args):
                raise
            _tell_as_json(exc, args, self.commands)


#: `status --watch` without SECONDS: every 5 s.
DEFAULT_INTERVAL = 5.0


def with_interval(args: Sequence[str]) -> list[str]:
    """`status --watch` may come without SECONDS (typer options have no optional values): give
    it the default, so `status --watch --line` watches every 5 s."""
    words = list(args)
    if words[:1] != ["status"]:
        return words
    out = [words.pop(0)]
    while words:
        word = words.pop(0)
        out.append(word)
        if word == "--":
            return out + words
        if word in VALUED and words:
            out.append(words.pop(0))
        elif word == "--watch" and not (words and _is_number(words[0])):
            out.append(f"{DEFAULT_INTERVAL:g}")
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
