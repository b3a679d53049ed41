"""The `consolescrape` command: options → the job → exit code. Nothing else lives here."""

import dataclasses
import functools
import inspect
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec

import typer

from consolescrape.execution import Common, execute
from consolescrape.invocation import Commands, one_home, with_interval

app = typer.Typer(
    name="consolescrape",
    help="Read your Claude plan usage limits (from cron) and send them to your own server.",
    no_args_is_help=True,
    # typer's own: --install-completion / --show-completion for bash, zsh, fish, PowerShell.
    add_completion=True,
    cls=Commands,
    context_settings={"help_option_names": ["-h", "--help"]},
    # Locals can hold the API key: never print them.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="Data directory [env CONSOLESCRAPE_HOME].", show_default=False),
]
#: --home as every command but `status` takes it: collected, so that a second one is refused.
HomesOpt = Annotated[
    list[Path] | None,
    typer.Option("--home", help="Data directory [env CONSOLESCRAPE_HOME].", show_default=False),
]
EnvFileOpt = Annotated[
    Path | None,
    typer.Option("--env-file", help="Settings file (default <home>/.env; ./.env is never read)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON result object on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors.")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Debug detail, timings, tracebacks.")
]
UrlOpt = Annotated[
    str | None, typer.Option("--url", help="Usage page [env CONSOLESCRAPE_USAGE_URL].")
]
ProfileOpt = Annotated[
    Path | None,
    typer.Option("--profile-dir", help="Browser profile [env CONSOLESCRAPE_PROFILE_DIR]."),
]


_COMMON_OPTIONS = (
    ("home", HomesOpt, None),
    ("env_file", EnvFileOpt, None),
    ("json", JsonOpt, False),
    ("quiet", QuietOpt, False),
    ("verbose", VerboseOpt, False),
)


def with_common(*, home: bool = True) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the options every command takes; it receives them as `common: Common`.

    `home=False` for a command that declares its own --home (`status` takes several), or that
    takes none (`demo` works in a home of its own).
    """

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = inspect.signature(command)
        hints = typing.get_type_hints(command, include_extras=True)
        params = [
            p.replace(annotation=hints[p.name])
            for p in own.parameters.values()
            if p.name != "common"
        ]
        added = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default
            )
            for name, kind, default in _COMMON_OPTIONS
            if home or name != "home"
        ]
        names = [p.name for p in added]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> None:
            shared = {name: kwargs.pop(name) for name in names}
            if "home" in shared:
                shared["home"] = one_home(shared["home"], command.__name__)
            command(common=Common(**shared), **kwargs)

        # Typer reads the options from the signature and the annotations.
        wrapper.__signature__ = own.replace(parameters=params + added)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params + added}
        return wrapper

    return decorate


P = ParamSpec("P")


def _exiting(run: Callable[P, int]) -> Callable[P, NoReturn]:
    """`run`, its exit code typer's."""

    def exiting(*args: P.args, **kwargs: P.kwargs) -> NoReturn:
        raise typer.Exit(run(*args, **kwargs))

    return exiting


_execute = _exiting(execute)


@app.command()
@with_common()
def run(
    common: Common,
    url: UrlOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Where to save the snapshot.")
    ] = None,
    profile_dir: ProfileOpt = None,
    headed: Annotated[bool, typer.Option("--headed", help="Show the browser window.")] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", help="Deadline of the browser phase, seconds (default 90).", min=1
        ),
    ] = None,
    no_sync: Annotated[
        bool, typer.Option("--no-sync", help="Queue the snapshot but do not send it now.")
    ] = False,
    log_file: Annotated[
        Path | None,
        typer.Option(
            "--log-file",
            help="Append every message to this file, kept under ~2 MiB (FILE and FILE.1).",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="browser (the usage page, default), oauth (Claude Code's login, no browser) "
            "or auto [env CONSOLESCRAPE_SOURCE].",
        ),
    ] = None,
) -> None:
    """Scrape the usage page once, save it, and sync it (the job cron runs).

    \b
    Usage: consolescrape run            (every 5 minutes from cron)
           consolescrape run --no-sync --json
           consolescrape run --source oauth   (Claude Code's usage endpoint, no browser)
    """
    from consolescrape.commands import run as command

    options = command.RunOptions(output=output, headed=headed, no_sync=no_sync)
    flags = {"profile_dir": profile_dir, "timeout": timeout, "usage_url": url, "source": source}
    _execute(
        "run",
        common,
        lambda settings, reporter: command.run(settings, options, reporter),
        flags=flags,
        log_file=log_file,
        # A bad setting ends the run too: state.json and the metrics file say so.
        unloaded=lambda exc, reporter: command.record_unloaded_run(
            {"home": common.home, **flags}, common.env_file, exc, reporter
        ),
    )


@app.command()
@with_common()
def sync(
    common: Common,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Send exactly this snapshot file (the outbox is untouched)."),
    ] = None,
) -> None:
    """Send queued snapshots to CLAUDE_SYNC_URL, oldest first, or resend one file.

    \b
    Usage: consolescrape sync
           consolescrape sync --file ~/.local/share/consolescrape/usage-data.json
    """
    from consolescrape.commands import sync as command

    _execute("sync", common, command.job(file))


@app.command()
@with_common()
def login(
    common: Common,
    session_key_stdin: Annotated[
        bool,
        typer.Option(
            "--session-key-stdin",
            help="Read a sessionKey cookie value from stdin instead of opening a window.",
        ),
    ] = False,
    url: UrlOpt = None,
    profile_dir: ProfileOpt = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", help="How long to wait for you to log in, seconds.", min=1, max=3600
        ),
    ] = 300,
) -> None:
    """Log the browser profile in to claude.ai once; later runs reuse it.

    \b
    Usage: consolescrape login                 (opens a window; log in, it closes itself)
           pass show claude/session | consolescrape login --session-key-stdin
    """
    from consolescrape.commands import login as command

    _execute(
        "login",
        common,
        lambda settings, reporter: command.login(
            settings, reporter, session_key_stdin=session_key_stdin, timeout=timeout
        ),
        flags={"profile_dir": profile_dir, "usage_url": url},
    )


@app.command()
@with_common(home=False)
def status(
    common: Common,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 9 when data is stale or the last run/sync failed.")
    ] = False,
    max_age: Annotated[
        float, typer.Option("--max-age", help="Minutes after which data counts as stale.", min=0)
    ] = 15,
    homes: Annotated[
        list[Path] | None,
        typer.Option(
            "--home",
            help="Data directory [env CONSOLESCRAPE_HOME]; repeat it to see several accounts.",
            show_default=False,
        ),
    ] = None,
    line: Annotated[
        bool,
        typer.Option("--line", help="One short line for a status bar or prompt, on stdout."),
    ] = False,
    template: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="The line from a template: {session} {session_resets} {weekly} "
            "{weekly_resets} {model} {age} {warning} {line} (README: In your status bar).",
            show_default=False,
        ),
    ] = None,
    color: Annotated[
        bool | None,
        typer.Option(
            "--color/--no-color",
            help="Colour the line (default: only when stdout is a terminal).",
            show_default=False,
        ),
    ] = None,
    watch: Annotated[
        float | None,
        typer.Option(
            "--watch",
            metavar="[SECONDS]",
            min=0.1,
            help="Redraw every SECONDS (default 5) until Ctrl-C; without a terminal, one "
            "line per interval. Never scrapes.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Show the latest usage, its age, the last run and sync, and the outbox.

    \b
    Usage: consolescrape status
           consolescrape status --check --max-age 20 || notify-send "consolescrape needs you"
           consolescrape status --home ~/.local/share/cs-work --home ~/.local/share/cs-home
           consolescrape status --line            (tmux, a prompt, Claude Code's statusLine)
           consolescrape status --watch
    """
    from consolescrape.commands import status as command

    homes = homes or []
    if line or template is not None or watch is not None:
        _status_live(common, homes, check, max_age, line, template, color, watch)
    common = dataclasses.replace(common, home=homes[0] if homes else None)
    if len(homes) > 1:
        # Each home loads its own settings: one home's bad setting is its own answer.
        _execute(
            "status",
            common,
            lambda reporter: command.several(
                homes,
                common.env_file,
                reporter,
                check=check,
                max_age=max_age * 60,
                as_json=common.json,
            ),
            needs_settings=False,
        )
    _execute(
        "status",
        common,
        lambda settings, reporter: command.status(
            settings, reporter, check=check, max_age=max_age * 60, as_json=common.json
        ),
        checking=check,
    )


def _status_live(
    common: Common,
    homes: list[Path],
    check: bool,
    max_age: float,
    line: bool,
    template: str | None,
    color: bool | None,
    watch: float | None,
) -> NoReturn:
    """`status --line` and `status --watch`: the views a status bar or a terminal keeps open."""
    from consolescrape import status_line

    if common.json or check:
        raise typer.BadParameter(
            "--line, --format and --watch show the data; they do not combine with "
            f"{'--json' if common.json else '--check'}"
        )
    options = status_line.LineOptions(homes, common.env_file, max_age, template, color)
    if watch is None:
        raise typer.Exit(status_line.run(options))
    from consolescrape import watch as watching

    _execute(
        "status",
        dataclasses.replace(common, home=homes[0] if homes else None),
        lambda reporter: watching.watch(options, every=watch, lines=line or template is not None),
        needs_settings=False,
    )


@app.command()
@with_common()
def history(
    common: Common,
    since: Annotated[
        str, typer.Option("--since", help="How far back: 24h, 7d or 30d (any Nh or Nd).")
    ] = "7d",
    csv: Annotated[
        bool, typer.Option("--csv", help="Print the rows as CSV on stdout (for spreadsheets).")
    ] = False,
) -> None:
    """Show each limit over time: a sparkline, the peak, time spent at 100%, each reset.

    \b
    Usage: consolescrape history
           consolescrape history --since 30d --csv > usage.csv
    """
    from consolescrape.commands import history as command

    _execute(
        "history",
        common,
        lambda settings, reporter: command.show(
            settings, reporter, since=since, as_json=common.json, as_csv=csv
        ),
    )


@app.command()
@with_common()
def doctor(
    common: Common,
    online: Annotated[
        bool, typer.Option("--online", help="Also load the usage page once to check the login.")
    ] = False,
) -> None:
    """Check the set-up (browser, driver, profile, sync URL and key, endpoint) and say what to fix.

    \b
    Usage: consolescrape doctor
           consolescrape doctor --online
    """
    from consolescrape.commands import doctor as command

    _execute(
        "doctor",
        common,
        lambda settings, reporter: command.doctor(settings, reporter, online=online),
    )


@app.command()
@with_common(home=False)
def demo(
    common: Common,
    home: Annotated[list[Path] | None, typer.Option("--home", hidden=True)] = None,
) -> None:
    """Run the real pipeline against a bundled sample page and a local receiver.

    Nothing leaves this machine and nothing of yours is touched: a temporary home is used
    and removed, and both servers listen on 127.0.0.1 only.

    \b
    Usage: consolescrape demo
    """
    if home:
        from consolescrape.invocation import UsageError

        raise UsageError(
            "`consolescrape demo` runs in a temporary home of its own and never touches yours: "
            "leave out --home"
        )
    from consolescrape.commands import demo as command

    _execute("demo", common, command.demo)


schedule_app = typer.Typer(
    help="Write, remove and report the job that runs `consolescrape run` every few minutes.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(schedule_app, name="schedule")

WithOpt = Annotated[
    str | None,
    typer.Option(
        "--with",
        metavar="cron|systemd|launchd",
        help="cron, systemd or launchd (default: launchd on macOS, a systemd user timer where "
        "`systemctl --user` works, else cron).",
        show_default=False,
    ),
]
EveryOpt = Annotated[
    int,
    typer.Option(
        "--every",
        help="Minutes between runs, 1-1440; one that does not divide the day restarts at midnight.",
        min=1,
        max=1440,
    ),
]


def _schedule(
    name: str, common: Common, every: int, job: Callable[[Any, Any, Any], Any]
) -> NoReturn:
    """Run a schedule action through the one exit path; `job(settings, reporter, entry)`."""

    def start(settings: Any, reporter: Any) -> Any:
        from consolescrape import schedule

        return job(
            settings, reporter, schedule.make_entry(settings, every=every, env_file=common.env_file)
        )

    _execute(f"schedule {name}", common, start)


@schedule_app.command("show")
@with_common()
def schedule_show(common: Common, with_: WithOpt = None, every: EveryOpt = 5) -> None:
    """Print exactly what `schedule install` would write, and where; change nothing.

    \b
    Usage: consolescrape schedule show
           consolescrape schedule show --with systemd --every 10
    """
    from consolescrape import schedule
    from consolescrape.commands import schedule as command

    _schedule(
        "show",
        common,
        every,
        lambda settings, reporter, entry: command.show(
            settings, reporter, schedule.pick(with_), entry, as_json=common.json
        ),
    )


@schedule_app.command("install")
@with_common()
def schedule_install(common: Common, with_: WithOpt = None, every: EveryOpt = 5) -> None:
    """Install (or update) the job that runs `consolescrape run` for this home.

    \b
    Usage: consolescrape schedule install
           consolescrape schedule install --with cron --every 10 --home ~/.local/share/cs-work
    """
    from consolescrape import schedule
    from consolescrape.commands import schedule as command

    _schedule(
        "install",
        common,
        every,
        lambda settings, reporter, entry: command.install(
            settings, reporter, schedule.pick(with_), entry
        ),
    )


@schedule_app.command("remove")
@with_common()
def schedule_remove(common: Common, with_: WithOpt = None) -> None:
    """Remove this home's job (only ours: every other crontab line and unit stays).

    \b
    Usage: consolescrape schedule remove
    """
    from consolescrape import schedule
    from consolescrape.commands import schedule as command

    _schedule(
        "remove",
        common,
        5,
        lambda settings, reporter, entry: command.remove(
            reporter, schedule.candidates(with_), entry, asked=with_ is not None
        ),
    )


@schedule_app.command("status")
@with_common()
def schedule_status(common: Common, with_: WithOpt = None) -> None:
    """Say whether the job is installed and where, the last run, and when the next is due.

    \b
    Usage: consolescrape schedule status
    """
    from consolescrape import schedule
    from consolescrape.commands import schedule as command

    _schedule(
        "status",
        common,
        5,
        lambda settings, reporter, entry: command.status(
            settings, reporter, schedule.candidates(with_), entry, as_json=common.json
        ),
    )


def _print_version(value: bool) -> None:
    if value:
        from consolescrape import version

        typer.echo(f"consolescrape {version()}")
        raise typer.Exit(0)


@app.callback()
def _common(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Read your Claude plan usage limits (from cron) and send them to your own server."""


def main() -> None:
    app(args=with_interval(sys.argv[1:]))
