"""Pure: the scheduled job and the text each scheduler is given for it (no I/O here).

One `Entry` — which program, which home, how often — becomes a crontab block, a systemd user
service and timer, or a launchd agent. The repo's examples are this text with placeholder paths
(scripts/write-examples), so they cannot drift from what `schedule install` writes.
"""

from __future__ import annotations

import hashlib
import plistlib
import re
import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

#: The interval's bounds, minutes: from every minute to once a day.
EVERY_MIN, EVERY_MAX = 1, 1440
#: systemd's backstop: the run ends itself within CONSOLESCRAPE_TIMEOUT + ~10 s.
TIMEOUT_START = "10min"
#: A few seconds of spread, so many machines do not all hit the server at :00.
RANDOMIZED_DELAY_SECONDS = 20


@dataclass(frozen=True)
class Entry:
    """`consolescrape run` for one home, every `every` minutes."""

    #: the installed consolescrape, by absolute path (or python -m consolescrape)
    program: tuple[str, ...]
    home: Path
    every: int = 5
    #: passed on only when given to `schedule install`; otherwise the run reads <home>/.env
    env_file: Path | None = None
    #: the name the default home gets; another home gets a suffix (several accounts)
    default_home: bool = True

    @property
    def log(self) -> Path:
        return self.home / "logs" / "run.log"

    def argv(self) -> list[str]:
        extra = ["--env-file", str(self.env_file)] if self.env_file is not None else []
        return [*self.program, "run", "--home", str(self.home), *extra, "--log-file", str(self.log)]

    @property
    def name(self) -> str:
        """systemd unit name and launchd label suffix: one per home."""
        if self.default_home:
            return "consolescrape"
        slug = re.sub(r"[^A-Za-z0-9]+", "-", self.home.name).strip("-")[:32] or "home"
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:8]
        return f"consolescrape-{slug}-{digest}"

    @property
    def label(self) -> str:
        return "local." + self.name.replace("-", ".", 1)

    @property
    def tag(self) -> str:
        """Marks our lines in a crontab and our unit files: `remove` finds them by it."""
        return f"# consolescrape schedule for {self.home}"

    def summary(self) -> str:
        return f"`run` every {describe_every(self.every)}, log in {self.log}"

    def undo(self) -> str:
        return f"consolescrape schedule remove --home {shlex.quote(str(self.home))}"


def describe_every(every: int) -> str:
    if every % 60 == 0:
        hours = every // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return "minute" if every == 1 else f"{every} minutes"


# --- when it runs --------------------------------------------------------------------------


def times_of_day(every: int) -> list[tuple[int, int]]:
    """(hour, minute) of each run in a day: every `every` minutes from midnight.

    An interval that does not divide the day (7, 45, 100 minutes) starts again at midnight, so
    the last gap of the day is shorter: cron's `*/7` would instead restart every hour.
    """
    if not EVERY_MIN <= every <= EVERY_MAX:
        raise ValueError(f"every {every} minutes is outside {EVERY_MIN}–{EVERY_MAX}")
    return [divmod(minute, 60) for minute in range(0, 24 * 60, every)]


def _groups(every: int) -> list[tuple[list[int], list[int]]]:
    """(hours, minutes) pairs covering the day's times: hours that share their minutes."""
    by_hour: dict[int, list[int]] = {}
    for hour, minute in times_of_day(every):
        by_hour.setdefault(hour, []).append(minute)
    groups: dict[tuple[int, ...], list[int]] = {}
    for hour, minutes in by_hour.items():
        groups.setdefault(tuple(minutes), []).append(hour)
    return [(hours, list(minutes)) for minutes, hours in groups.items()]


def _field(values: list[int], size: int, *, cron: bool) -> str:
    """`*`, a step (`*/5` in cron, `00/5` in systemd) or a list, for a minute or hour field."""
    if values == list(range(size)):
        return "*"
    step = values[1] - values[0] if len(values) > 1 else 0
    if values[0] == 0 and step and values == list(range(0, size, step)):
        return f"*/{step}" if cron else f"00/{step}"
    return ",".join(str(v) if cron else f"{v:02d}" for v in values)


def cron_times(every: int) -> list[str]:
    """The five time fields of each crontab line."""
    return [
        f"{_field(m, 60, cron=True)} {_field(h, 24, cron=True)} * * *" for h, m in _groups(every)
    ]


def on_calendar(every: int) -> list[str]:
    """The systemd `OnCalendar=` values."""
    return [
        f"*-*-* {_field(h, 24, cron=False)}:{_field(m, 60, cron=False)}:00"
        for h, m in _groups(every)
    ]


def calendar_intervals(every: int) -> list[dict[str, int]]:
    """launchd's `StartCalendarInterval`: a missing key is a wildcard."""
    if every == 1:
        return [{}]
    if 60 % every == 0:
        return [{"Minute": m} for m in range(0, 60, every)]
    return [{"Hour": h, "Minute": m} for h, m in times_of_day(every)]


def next_due(times: list[tuple[int, int]], now: datetime) -> datetime:
    """The next start after `now` among the day's (hour, minute) times, in local wall time."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for offset in (0, 1):
        for hour, minute in sorted(times):
            at = day + timedelta(days=offset, hours=hour, minutes=minute)
            if at > now:
                return at
    raise ValueError("no start time")


# --- cron ----------------------------------------------------------------------------------


def _cron_command(argv: list[str]) -> str:
    # cron turns an unescaped % into a newline: escape it.
    return " ".join(shlex.quote(arg) for arg in argv).replace("%", "\\%")


def cron_block(entry: Entry) -> str:
    """What `install` adds to the crontab: a comment naming it, then the line(s)."""
    command = _cron_command(entry.argv())
    lines = [
        f"{entry.tag}: {entry.summary()}. Written by `consolescrape schedule install`;"
        f" undo: {entry.undo()}",
    ]
    tag = entry.tag.replace("%", "\\%")
    lines += [f"{times} {command}  {tag}" for times in cron_times(entry.every)]
    return "\n".join(lines) + "\n"


def _is_header(line: str, entry: Entry) -> bool:
    return line.startswith(f"{entry.tag}: `run` every ")


def is_ours(line: str, entry: Entry) -> bool:
    text = line.rstrip()
    return _is_header(text, entry) or text.endswith(entry.tag.replace("%", "\\%"))


def without_entry(crontab: str, entry: Entry) -> str:
    """The crontab with this home's lines taken out, every other line as it was."""
    kept = [line for line in crontab.splitlines() if not is_ours(line, entry)]
    return "".join(line + "\n" for line in kept)


def with_entry(crontab: str, entry: Entry) -> str:
    """The crontab with this home's entry (replacing an older one), other lines kept."""
    return without_entry(crontab, entry) + cron_block(entry)


def installed_every(text: str, entry: Entry) -> int | None:
    """The interval our marker says, in a crontab or a unit file; None: not ours / not there."""
    for line in text.splitlines():
        if _is_header(line, entry):
            found = re.search(r"`run` every (?:(\d+) )?(minute|hour)", line)
            if found:
                count = int(found[1] or 1)
                return count * 60 if found[2] == "hour" else count
            return entry.every
    return None


# --- systemd -------------------------------------------------------------------------------


def _systemd_word(arg: str) -> str:
    """One ExecStart word: % and $ are systemd's own, spaces and quotes need quoting."""
    text = arg.replace("%", "%%").replace("$", "$$")
    if re.search(r"[\s\"'\\;]", text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def systemd_units(entry: Entry) -> dict[str, str]:
    """{file name: text} for the user service and its timer."""
    header = (
        f"{entry.tag}: {entry.summary()}.\n"
        f"# Written by `consolescrape schedule install`; undo: {entry.undo()}\n"
    )
    service = (
        header
        + "[Unit]\n"
        + f"Description=consolescrape run for {entry.home}\n"
        + "\n[Service]\n"
        + "Type=oneshot\n"
        + "ExecStart="
        + " ".join(_systemd_word(arg) for arg in entry.argv())
        + "\n"
        + "# The run ends itself within CONSOLESCRAPE_TIMEOUT + ~10 s; this is a backstop.\n"
        + f"TimeoutStartSec={TIMEOUT_START}\n"
        + "# Exit 8: the previous run still held the lock, not a failure.\n"
        + "SuccessExitStatus=8\n"
        + "Nice=10\n"
    )
    timer = (
        header
        + "[Unit]\n"
        + f"Description=consolescrape every {describe_every(entry.every)} for {entry.home}\n"
        + "\n[Timer]\n"
        + "".join(f"OnCalendar={when}\n" for when in on_calendar(entry.every))
        + "# A start missed while the machine slept or was off happens at wake-up.\n"
        + "Persistent=true\n"
        + f"RandomizedDelaySec={RANDOMIZED_DELAY_SECONDS}\n"
        + "AccuracySec=1s\n"
        + f"Unit={entry.name}.service\n"
        + "\n[Install]\n"
        + "WantedBy=timers.target\n"
    )
    return {f"{entry.name}.service": service, f"{entry.name}.timer": timer}


# --- launchd -------------------------------------------------------------------------------

#: Where Homebrew and the Chrome installer put chromedriver: launchd's own PATH lacks them.
LAUNCHD_PATH = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin"


def launchd_plist(entry: Entry) -> bytes:
    """The LaunchAgent: calendar starts (a start missed in sleep runs at wake), logs in home."""
    agent = {
        "Label": entry.label,
        "ProgramArguments": entry.argv(),
        "StartCalendarInterval": calendar_intervals(entry.every),
        "RunAtLoad": True,
        "WorkingDirectory": str(entry.home),
        "StandardOutPath": str(entry.log),
        "StandardErrorPath": str(entry.log),
        "EnvironmentVariables": {"PATH": LAUNCHD_PATH},
        "ProcessType": "Background",
    }
    return plistlib.dumps(agent, sort_keys=False)


def plist_times(data: bytes) -> list[tuple[int, int]] | None:
    """The day's start times an installed plist names (for `status`); None: not readable."""
    try:
        agent = plistlib.loads(data)
        intervals = agent["StartCalendarInterval"]
    except (plistlib.InvalidFileException, KeyError, TypeError, ValueError):
        return None
    if isinstance(intervals, dict):
        intervals = [intervals]
    times: set[tuple[int, int]] = set()
    for item in intervals:
        hours = [item["Hour"]] if "Hour" in item else range(24)
        minutes = [item["Minute"]] if "Minute" in item else range(60)
        times.update((h, m) for h in hours for m in minutes)
    return sorted(times)
