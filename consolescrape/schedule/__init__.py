"""The job that runs `consolescrape run` every N minutes: which scheduler, the entry, its text.

`entry` writes the text (pure), `backends` hands it to crontab, systemctl or launchctl; the
four actions are `commands.schedule`. What is
written and how to do it by hand: README, "What `schedule install` writes".
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from consolescrape import config
from consolescrape.browser.chrome import CHROME_NAMES
from consolescrape.config import Settings
from consolescrape.errors import UsageError
from consolescrape.schedule import entry as texts
from consolescrape.schedule.backends import Backend, Cron, Launchd, Systemd
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


def view(backend: Backend, entry: Entry) -> str:
    """What `show` prints: each file under a `# file:` line (cron: its block alone)."""
    files = backend.files(entry)
    if isinstance(backend, Cron):
        return f"# add to {backend.where} (crontab -e), or let `schedule install` do it\n" + (
            texts.cron_block(entry)
        )
    return "".join(f"# file: {path}\n{text}" for path, text in files.items())


#: The PATH cron gives its jobs.
CRON_PATH = "/usr/bin:/bin"


def unseen_by_cron(settings: Settings) -> list[str]:
    """Chrome or chromedriver found here only through a PATH that cron's lacks."""
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
