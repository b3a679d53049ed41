"""What a command was started with: usage errors under --json, and advice that repeats the
options the command ran with (`--home`, `--env-file`)."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any, NoReturn

import typer

# typer bundles its own Click (typer >= 0.26): its exceptions live there.
from typer._click import Context
from typer._click.exceptions import UsageError
from typer.core import TyperGroup

__all__ = ["Commands", "UsageError", "one_home", "options_to_repeat", "repeat_options"]

#: The commands advice names; `schedule` takes a subcommand word of its own.
_COMMAND = re.compile(
    r"\bconsolescrape (?:schedule (?:show|install|remove|status)|"
    r"run|sync|login|status|doctor|history)\b(?! --home)"
)


def repeat_options(text: str, options: list[str]) -> str:
    """`text` with `options` after each `consolescrape <command>` it names."""
    if not options:
        return text
    extra = " " + " ".join(options)
    return _COMMAND.sub(lambda found: found.group(0) + extra, text)


def options_to_repeat(home: Path | None, env_file: Path | None) -> list[str]:
    """The --home/--env-file given on the command line, shell-quoted, as advice repeats them."""
    found: list[str] = []
    if home is not None:
        found += ["--home", shlex.quote(str(home))]
    if env_file is not None:
        found += ["--env-file", shlex.quote(str(env_file))]
    return found


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
