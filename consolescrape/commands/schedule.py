"""`consolescrape schedule show|install|remove|status`: write, remove and report the job."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from consolescrape import model, store
from consolescrape.config import Settings
from consolescrape.outcome import Outcome
from consolescrape.output import Reporter
from consolescrape.schedule import entry as texts
from consolescrape.schedule import unseen_by_cron, view
from consolescrape.schedule.backends import Backend, Cron, Installed, Systemd
from consolescrape.schedule.entry import Entry
from consolescrape.words import ago, duration


def _print_view(reporter: Reporter, text: str) -> None:
    """A view (what was asked for) goes to stdout; messages stay on stderr."""
    # Tabs stay (plistlib indents with them); any other control character goes.
    lines = ("\t".join(map(reporter.scrub, line.split("\t"))) for line in text.splitlines())
    sys.stdout.write("".join(line + "\n" for line in lines))
    sys.stdout.flush()


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
        lines.append(f"{'Last run':<10} {mark} {ago(last_run.at, now)} · {last_run.message}")
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
