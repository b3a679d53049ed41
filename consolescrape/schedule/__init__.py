"""`consolescrape schedule show|install|remove|status`: the job that runs `run` every N minutes.

`entry` writes the text (pure), `backends` hands it to crontab, systemctl or launchctl. What is
written and how to do it by hand: README, "What `schedule install` writes".
"""

from __future__ import annotations

import os
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from consolescrape import config, model, store
from consolescrape.config import Settings
from consolescrape.errors import UsageError
from consolescrape.jobs import Outcome
from consolescrape.output import Reporter
from consolescrape.schedule import entry as texts
from consolescrape.schedule.backends import Backend, Cron, Installed, Launchd, Systemd
from consolescrape.schedule.entry import Entry

NAMES = ("cron", "systemd", "launchd")


def program() -> tuple[str, ...]:
    """The installed `consolescrape`, by absolute path: cron's PATH would not find it."""
    launched = Path(sys.argv[0])
    if launched.name == "consolescrape" and launched.is_file():
        return (str(launched.absolute()),)
    # `python -m consolescrape`: the script next to this interpreter (a venv's bin/), as is,
    # not resolved (a venv's python is a symlink to the system's).
    beside = Path(sys.executable).parent / "consolescrape"
    if beside.is_file() and os.access(beside, os.X_OK):
        return (str(beside.absolute()),)
    found = shutil.which("consolescrape")
    if found:
        return (str(Path(found).absolute()),)
    return (str(Path(sys.executable).absolute()), "-m", "consolescrape")


def make_entry(settings: Settings, *, every: int, env_file: Path | None) -> Entry:
    home = settings.home
    if "\n" in str(home) or "\n" in str(env_file or ""):
        raise UsageError("a home or env file whose name holds a line break cannot be scheduled")
    return Entry(
        program=program(),
        home=home,
        every=every,
        env_file=env_file.expanduser().absolute() if env_file is not None else None,
        default_home=home == config.default_home().absolute(),
    )


def pick(name: str | None) -> Backend:
    """The scheduler asked for; by default launchd on macOS, a systemd user timer where
    `systemctl --user` works, else cron."""
    if name is None:
        if sys.platform == "darwin":
            return Launchd()
        systemd = Systemd()
        return systemd if systemd.usable() else Cron()
    if name not in NAMES:
        raise UsageError(f"--with {name}: choose one of {', '.join(NAMES)}")
    kinds: dict[str, type[Backend]] = {"cron": Cron, "systemd": Systemd, "launchd": Launchd}
    return kinds[name]()


def candidates(name: str | None) -> list[Backend]:
    """Where `remove` and `status` look: the one asked for, else every scheduler here."""
    if name is not None:
        return [pick(name)]
    return [Launchd()] if sys.platform == "darwin" else [Systemd(), Cron()]


def _print_view(reporter: Reporter, text: str) -> None:
    """A view (what was asked for) goes to stdout; messages stay on stderr."""
    # Tabs stay (plistlib indents with them); any other control character goes.
    lines = ("\t".join(map(reporter.scrub, line.split("\t"))) for line in text.splitlines())
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()


def view(backend: Backend, entry: Entry) -> str:
    """What `show` prints: each file under a `# file:` line (cron: its block alone)."""
    files = backend.files(entry)
    if isinstance(backend, Cron):
        return f"# add to {backend.where} (crontab -e), or let `schedule install` do it\n" + (
            texts.cron_block(entry)
        )
    return "".join(f"# file: {path}\n{text}" for path, text in files.items())


def show(
    settings: Settings,
    reporter: Reporter,
    backend: Backend,
    entry: Entry,
    *,
    as_json: bool,
) -> Outcome:
    """Print exactly what `install` would write, and where; change nothing."""
    files = backend.files(entry)
    if not as_json:
        _print_view(reporter, view(backend, entry))
    return Outcome(
        data={
            "backend": backend.name,
            "every": entry.every,
            "command": entry.argv(),
            "files": [{"path": p, "text": t} for p, t in files.items()],
        }
    )


def install(settings: Settings, reporter: Reporter, backend: Backend, entry: Entry) -> Outcome:
    """Write the entry (once: again = unchanged), with the folders the run needs."""
    backend.require()
    store.check_home(entry.home)
    store.private_dir(entry.home)
    store.private_dir(entry.log.parent)
    changed = backend.install(entry)
    where = ", ".join(backend.files(entry))
    what = "installed" if changed else "already installed, unchanged"
    reporter.info(f"{what}: {backend.name}, {entry.summary()} ({where})")
    reporter.info(f"undo: {entry.undo()}")
    if not settings.profile.is_dir():
        reporter.warn("not logged in yet: each run exits 3 until `consolescrape login`")
    if isinstance(backend, Cron):
        for warning in unseen_by_cron(settings):
            reporter.warn(warning)
    return Outcome(
        data={"backend": backend.name, "changed": changed, "where": list(backend.files(entry))}
    )


#: The PATH cron gives its jobs.
CRON_PATH = "/usr/bin:/bin"


def unseen_by_cron(settings: Settings) -> list[str]:
    """Chrome or chromedriver found here only through a PATH that cron's lacks."""
    from consolescrape.browser.chrome import CHROME_NAMES

    warnings = []
    wanted: list[tuple[str, Path | None, tuple[str, ...]]] = [
        ("CONSOLESCRAPE_CHROME_BINARY", settings.chrome_binary, CHROME_NAMES),
        ("CONSOLESCRAPE_CHROMEDRIVER", settings.chromedriver, ("chromedriver",)),
    ]
    for variable, configured, names in wanted:
        if configured is not None or any(shutil.which(n, path=CRON_PATH) for n in names):
            continue
        here = next((p for p in map(shutil.which, names) if p), None)
        warnings.append(
            f"cron's PATH ({CRON_PATH}) does not find {names[0]}: set {variable}="
            f"{here or '<its path>'} in {config.env_file_for(settings)}"
        )
    return warnings


def remove(reporter: Reporter, backends: list[Backend], entry: Entry, *, asked: bool) -> Outcome:
    """Take out this home's entry, wherever it is; every other line and unit stays."""
    if asked and not isinstance(backends[0], Systemd):  # unit files go without systemctl
        backends[0].require()
    removed = [b.name for b in backends if b.find(entry) is not None and b.remove(entry)]
    if removed:
        reporter.info(f"removed: the {' and '.join(removed)} entry for {entry.home}")
    else:
        reporter.info(f"nothing to remove: no schedule for {entry.home}")
    return Outcome(data={"removed": removed})


def status(
    settings: Settings,
    reporter: Reporter,
    backends: list[Backend],
    entry: Entry,
    *,
    as_json: bool,
    now: datetime | None = None,
) -> Outcome:
    """Whether an entry is installed and where, the last run, when the next is due."""
    from consolescrape.status import duration

    now = now or datetime.now().astimezone()
    found = [item for backend in backends if (item := backend.find(entry)) is not None]
    last_run = store.load_state(settings.state_file).run
    lines = []
    for item in found:
        active = {True: "", False: " (not loaded)", None: ""}[item.active]
        lines.append(f"{'Schedule':<10} {item.backend}: {item.where}{active}")
    if not found:
        lines.append(f"{'Schedule':<10} not installed: `consolescrape schedule install` adds it")
    if last_run is None:
        lines.append(f"{'Last run':<10} never")
    else:
        mark = "✓" if last_run.ok else f"✗ exit {last_run.exit_code}"
        try:
            ago = f"{duration((now - model.parse_time(last_run.at)).total_seconds())} ago"
        except ValueError:
            ago = "at an unknown time"
        lines.append(f"{'Last run':<10} {mark} {ago} · {last_run.message}")
    due = min((texts.next_due(item.times, now) for item in found), default=None)
    if due is not None:
        left = duration((due - now).total_seconds())
        lines.append(f"{'Next run':<10} in {left} (at {due:%H:%M})")
    lines.append(f"{'Log':<10} {entry.log}")
    if not as_json:
        _print_view(reporter, "\n".join(lines))
    data: dict[str, Any] = {
        "installed": bool(found),
        "entries": [_entry_json(item) for item in found],
        "lastRun": dict(last_run.doc) if last_run else None,
        "nextDue": model.format_time(due) if due else None,
        "log": str(entry.log),
    }
    return Outcome(data=data)


def _entry_json(item: Installed) -> dict[str, Any]:
    return {"backend": item.backend, "where": item.where, "active": item.active}
