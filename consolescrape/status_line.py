"""`consolescrape status --line`: the usage in one short line, for status bars and prompts.

    S 47% 2h41m · W 31% 1d1h · Sonnet 10%

A bar runs this every second or two, so it reads only the home's files (no browser, no network,
no lock: the snapshot is replaced atomically, so it is read as it is) and imports only what it
prints: `python -m consolescrape` answers it before typer is loaded (`fast`), and nothing here
loads rich, requests or Selenium. The template fields are listed in the README ("In your status
bar") and in `FIELDS`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from consolescrape import model, store
    from consolescrape.config import Settings

#: The fields a `--format` template can name (a model row's own fields come on top: `{sonnet}`,
#: `{sonnet_resets}`, `{claude_design}`…). A field without a value is empty.
FIELDS = {
    "session": "percent used of the current session, e.g. 47%",
    "session_resets": "time until the session resets, e.g. 2h41m",
    "weekly": "percent used of the weekly limit for all models, e.g. 31%",
    "weekly_resets": "time until the weekly limit resets, e.g. 1d1h",
    "model": "each model's weekly row as the line shows it, e.g. Sonnet 10%",
    "age": "how old the data is, e.g. 3m",
    "warning": "what is wrong, as the line ends with it: (stale 25m), (logged out), or empty",
    "line": "the whole default line",
}

SEPARATOR = " · "
#: ANSI colours for the styles words.percent_style names (and the warning).
_ANSI = {"green": "32", "yellow": "33", "red": "31"}


@dataclass(frozen=True)
class HomeFiles:
    """What one home's files say: the snapshot (if any could be read) and the last run."""

    snapshot: model.Snapshot | None
    unreadable: bool
    state: store.State


def read(settings: Settings) -> HomeFiles:
    """The snapshot and state.json as they are on disk, without taking any lock."""
    from consolescrape import store

    snapshot, unreadable = None, False
    try:
        snapshot = store.load_snapshot(settings.data_file)
    except (ValueError, OSError):  # damaged, or not ours to read: say so, never fail a bar
        unreadable = True
    try:
        state = store.load_state(settings.state_file)
    except OSError:
        state = store.State()
    return HomeFiles(snapshot, unreadable, state)


def _field_name(key: str) -> str:
    from consolescrape import model

    return model.model_name(key).lower().replace(" ", "_")


def _warnings(reading: HomeFiles, age: float | None, max_age: float) -> list[str]:
    from consolescrape.errors import ExitCode
    from consolescrape.words import short_duration

    found = []
    if age is not None and age > max_age:
        found.append(f"stale {short_duration(age)}")
    run = reading.state.run
    if run is not None and not run.ok and not reading.state.run_resolved:
        found.append("logged out" if run.exit_code == ExitCode.LOGGED_OUT else "run failed")
    return found


class _Painter:
    """Colours a piece of the line, or leaves it plain."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, style: str) -> str:
        if not self.color or not text or style not in _ANSI:
            return text
        return f"\x1b[{_ANSI[style]}m{text}\x1b[0m"


def fields(
    reading: HomeFiles, now: datetime, *, max_age: float, color: bool = False
) -> dict[str, str]:
    """Every template field for this reading (the line itself included)."""
    from consolescrape import model
    from consolescrape.words import percent_style, short_countdown, short_duration

    paint = _Painter(color)
    snapshot = reading.snapshot
    age = None if snapshot is None else max(0.0, (now - snapshot.last_updated).total_seconds())
    warnings = _warnings(reading, age, max_age)
    found = {name: "" for name in FIELDS}
    found["warning"] = paint(f"({', '.join(warnings)})", "red") if warnings else ""
    tail = f" {found['warning']}" if warnings else ""
    if snapshot is None:
        found["line"] = ("no data (unreadable)" if reading.unreadable else "no data") + tail
        return found

    def percent(limit: model.Limit) -> str:
        return paint(f"{limit.percentage_used:g}%", percent_style(limit.percentage_used))

    # Only numbers and model names (letters and digits, model.model_name) reach the line: no
    # text from the page, so nothing in it can carry an escape sequence.
    found["age"] = short_duration(age or 0)
    parts = []
    weekly = snapshot.weekly.get(model.ALL_MODELS)
    for label, name, limit in (("S", "session", snapshot.session), ("W", "weekly", weekly)):
        if limit is not None:
            found[name], found[f"{name}_resets"] = percent(limit), short_countdown(limit, now)
            parts.append(" ".join(filter(None, [label, found[name], found[f"{name}_resets"]])))
    rows = []
    for key, limit in snapshot.weekly.items():
        if key == model.ALL_MODELS:
            continue
        name, resets = _field_name(key), short_countdown(limit, now)
        found.setdefault(name, percent(limit))
        found.setdefault(f"{name}_resets", resets)
        # A model row that resets with the weekly limit needs no second countdown.
        shown = resets if resets != found["weekly_resets"] else ""
        rows.append(" ".join(filter(None, [model.model_name(key), percent(limit), shown])))
    found["model"] = SEPARATOR.join(rows)
    found["line"] = SEPARATOR.join(parts + rows) + tail
    return found


class _Empty(dict[str, str]):
    """A field the data does not have (a model row gone from the page) is empty, so a bar's
    template keeps working when the page changes."""

    def __missing__(self, key: str) -> str:
        return ""


def check_template(template: str) -> None:
    """A template that names fields only (`{session}`, `{weekly:>4}`); else a UsageError."""
    import re
    import string

    from consolescrape.errors import UsageError

    fix = (
        f"name fields in braces, e.g. '{{session}} {{session_resets}}'; fields: {', '.join(FIELDS)}"
    )
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise UsageError(f"--format {template!r}: {exc}", fix) from None
    for _, name, spec, _ in parsed:
        if name is not None and not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise UsageError(f"--format {template!r}: {{{name}}} is not a field name", fix)
        if spec and "{" in spec:
            raise UsageError(f"--format {template!r}: fields inside a format spec", fix)


def text(
    readings: Sequence[HomeFiles],
    now: datetime,
    *,
    max_age: float,
    template: str | None = None,
    color: bool = False,
) -> str:
    """The line for one home, or each home's line joined by ' | '."""
    lines = []
    for reading in readings:
        found = fields(reading, now, max_age=max_age, color=color)
        if template is None or reading.snapshot is None:
            lines.append(found["line"])
        else:
            lines.append(template.format_map(_Empty(found)))
    return " | ".join(lines)


def wants_color(color: bool | None) -> bool:
    """`--color`/`--no-color`, else colour only on a terminal (and not under NO_COLOR)."""
    if color is not None:
        return color
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def ignore_stdin() -> None:
    """Claude Code's statusLine pipes its session JSON in: take what is already there, so the
    writer never meets a closed pipe, but never wait for more — a terminal, an empty pipe left
    open, or a file (nobody waits on it) must not hold the line back."""
    import select
    import stat

    try:
        fd = sys.stdin.fileno()
        mode = os.fstat(fd).st_mode
    except (AttributeError, OSError, ValueError):  # no stdin at all (closed, or replaced)
        return
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return
    budget = 1 << 20  # `yes | consolescrape status --line` must end too
    try:
        while budget > 0 and select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            budget -= len(chunk)
    except OSError:
        pass


def show(
    settings: Sequence[Settings],
    *,
    max_age: float,
    template: str | None,
    color: bool | None,
) -> None:
    """Print the line for these homes on stdout (what `status --line` does)."""
    if template is not None:
        check_template(template)
    ignore_stdin()
    readings = [read(one) for one in settings]
    line = text(
        readings,
        datetime.now(UTC),
        max_age=max_age,
        template=template,
        color=wants_color(color),
    )
    out = sys.stdout
    if hasattr(out, "reconfigure"):
        out.reconfigure(errors="replace")  # a terminal that cannot show "·" gets "?"
    out.write(line + "\n")
    out.flush()


def settings_for(homes: Sequence[Path], env_file: Path | None) -> list[Settings]:
    """Each home as every command resolves it (README, Configuration); the line needs no other
    setting, so no other can fail it."""
    from consolescrape import config

    if not homes:
        return [config.load_home(env_file=env_file)]
    return [config.load_home(home, env_file=env_file) for home in homes]


# --- the fast path: `status --line` before typer is imported -----------------------------------


@dataclass
class LineOptions:
    homes: list[Path]
    env_file: Path | None = None
    max_age: float = 15.0
    template: str | None = None
    color: bool | None = None


_FLAGS = {"--line", "--quiet", "-q", "--verbose", "-v", "--color", "--no-color"}
VALUED = {"--home", "--env-file", "--max-age", "--format"}


def parse(args: Sequence[str]) -> LineOptions | None:
    """The options of `status --line` (or `--format`), or None for anything else: a `--watch`,
    `--json`, `--help`, a bad value… — typer then answers, with its own messages."""
    from pathlib import Path

    from consolescrape.argv import scan

    pairs = scan(args, VALUED, _FLAGS)
    if pairs is None:
        return None
    found = LineOptions(homes=[])
    line = False
    for name, value in pairs:
        if name == "--home":
            found.homes.append(Path(value))
        elif name == "--env-file":
            found.env_file = Path(value)
        elif name == "--max-age":
            try:
                minutes = float(value)
            except ValueError:
                return None
            if not 0 <= minutes < float("inf"):
                return None
            found.max_age = minutes
        elif name == "--format":
            found.template, line = value, True
        elif name in ("--color", "--no-color"):
            found.color = name == "--color"
        line = line or name == "--line"
    return found if line else None


def run(options: LineOptions) -> int:
    """`status --line` from either door: print the line, return the exit code."""
    from consolescrape.errors import ConsolescrapeError

    try:
        show(
            settings_for(options.homes, options.env_file),
            max_age=options.max_age * 60,
            template=options.template,
            color=options.color,
        )
    except ConsolescrapeError as exc:
        from consolescrape.output import Reporter

        Reporter().error(exc.message, exc.advice)
        return int(exc.exit_code)
    return 0


def fast(args: Sequence[str]) -> int | None:
    """Answer `consolescrape status <args>` when it asks for the line; None: not for us."""
    options = parse(args)
    return None if options is None else run(options)
