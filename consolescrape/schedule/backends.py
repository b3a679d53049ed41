"""The schedulers themselves: crontab, systemctl --user, launchctl. Each is given a `Runner`, so
tests can record the commands where the real tool cannot run (launchd off macOS)."""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from consolescrape.errors import ConfigError
from consolescrape.schedule import entry as texts
from consolescrape.schedule.entry import Entry

#: (argv, stdin text or None) → the finished process; every call is bounded.
Runner = Callable[[list[str], str | None], "subprocess.CompletedProcess[str]"]
Which = Callable[[str], str | None]


def run_command(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            argv, input=stdin or "", capture_output=True, text=True, timeout=30, check=False
        )
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(argv, 124, "", "no answer within 30 s")


@dataclass(frozen=True)
class Installed:
    """An entry found in a scheduler: where, and the day's start times it names."""

    backend: str
    where: str
    times: list[tuple[int, int]]
    #: the scheduler says it is loaded/enabled (None: it cannot be asked here)
    active: bool | None = None


def _failed(what: list[str], done: subprocess.CompletedProcess[str], advice: str) -> ConfigError:
    said = (done.stderr or done.stdout).strip().splitlines()
    return ConfigError(
        f"`{' '.join(what)}` failed (exit {done.returncode}): {said[-1] if said else 'no output'}",
        advice,
    )


def _write_if_changed(path: Path, data: bytes) -> bool:
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o644)
    return True


@dataclass
class Cron:
    run: Runner = run_command
    which: Which = shutil.which
    user: str = field(default_factory=getpass.getuser)
    name: str = "cron"

    @property
    def where(self) -> str:
        return f"the crontab of {self.user}"

    def require(self) -> None:
        if self.which("crontab") is None:
            raise ConfigError(
                "crontab not found: cron is not installed",
                "install cron (Debian/Ubuntu: apt-get install cron; Fedora: dnf install cronie) "
                "and start it, or use --with systemd",
            )

    def files(self, entry: Entry) -> dict[str, str]:
        return {self.where: texts.cron_block(entry)}

    def _read(self) -> str:
        self.require()
        done = self.run(["crontab", "-l"], None)
        if done.returncode == 0:
            return done.stdout
        if "no crontab" in done.stderr.lower():
            return ""
        raise _failed(["crontab", "-l"], done, "check that you may use cron (/etc/cron.allow)")

    def _write(self, text: str) -> None:
        done = self.run(["crontab", "-"], text)
        if done.returncode != 0:
            raise _failed(["crontab", "-"], done, "check that you may use cron (/etc/cron.allow)")

    def install(self, entry: Entry) -> bool:
        current = self._read()
        ours = [line for line in current.splitlines() if texts.is_ours(line, entry)]
        if ours == texts.cron_block(entry).splitlines():
            return False
        self._write(texts.with_entry(current, entry))
        return True

    def remove(self, entry: Entry) -> bool:
        current = self._read()
        kept = texts.without_entry(current, entry)
        if kept == current:
            return False
        self._write(kept)
        return True

    def find(self, entry: Entry) -> Installed | None:
        if self.which("crontab") is None:
            return None
        every = texts.installed_every(self._read(), entry)
        if every is None:
            return None
        return Installed(self.name, self.where, texts.times_of_day(every))


#: What `systemctl --user is-system-running` prints when user units can be started.
USABLE_STATES = {"running", "degraded", "starting", "initializing"}


def user_unit_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


@dataclass
class Systemd:
    run: Runner = run_command
    which: Which = shutil.which
    unit_dir: Path = field(default_factory=user_unit_dir)
    name: str = "systemd"

    def state(self) -> str | None:
        """The user manager's state; None when there is no systemctl at all."""
        if self.which("systemctl") is None:
            return None
        done = self.run(["systemctl", "--user", "is-system-running"], None)
        return (done.stdout.strip() or done.stderr.strip() or "no answer").splitlines()[0]

    def usable(self) -> bool:
        return self.state() in USABLE_STATES

    def require(self) -> None:
        state = self.state()
        if state is None:
            raise ConfigError(
                "systemctl not found: this system does not run systemd",
                "use `consolescrape schedule install --with cron` (cron: apt-get install cron)",
            )
        if state not in USABLE_STATES:
            raise ConfigError(
                "systemd user services are not available here "
                f"(`systemctl --user is-system-running` says: {state})",
                "use `consolescrape schedule install --with cron`, or keep your user manager "
                "running: `loginctl enable-linger $USER`, then log in again",
            )

    def files(self, entry: Entry) -> dict[str, str]:
        return {str(self.unit_dir / n): t for n, t in texts.systemd_units(entry).items()}

    def _systemctl(self, *args: str, check: bool = True) -> None:
        argv = ["systemctl", "--user", *args]
        done = self.run(argv, None)
        if check and done.returncode != 0:
            raise _failed(argv, done, "see `journalctl --user -xe`")

    def install(self, entry: Entry) -> bool:
        self.require()
        changed = False
        for path, text in self.files(entry).items():
            changed |= _write_if_changed(Path(path), text.encode())
        self._systemctl("daemon-reload")
        self._systemctl("enable", "--now", f"{entry.name}.timer")
        return changed

    def remove(self, entry: Entry) -> bool:
        paths = [Path(p) for p in self.files(entry)]
        if not any(p.exists() for p in paths):
            return False
        if self.usable():
            self._systemctl("disable", "--now", f"{entry.name}.timer", check=False)
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        if self.usable():
            self._systemctl("daemon-reload", check=False)
        return True

    def find(self, entry: Entry) -> Installed | None:
        timer = self.unit_dir / f"{entry.name}.timer"
        try:
            every = texts.installed_every(timer.read_text(), entry)
        except (FileNotFoundError, UnicodeDecodeError):
            return None
        if every is None:
            return None
        active = None
        if self.usable():
            done = self.run(["systemctl", "--user", "is-active", f"{entry.name}.timer"], None)
            active = done.stdout.strip() == "active"
        return Installed(self.name, str(timer), texts.times_of_day(every), active)


@dataclass
class Launchd:
    run: Runner = run_command
    which: Which = shutil.which
    agents_dir: Path = field(default_factory=lambda: Path.home() / "Library" / "LaunchAgents")
    uid: int = field(default_factory=os.getuid)
    name: str = "launchd"

    def require(self) -> None:
        if self.which("launchctl") is None:
            raise ConfigError(
                "launchctl not found: launchd agents exist only on macOS",
                "use --with cron or --with systemd here",
            )

    def path(self, entry: Entry) -> Path:
        return self.agents_dir / f"{entry.label}.plist"

    def files(self, entry: Entry) -> dict[str, str]:
        return {str(self.path(entry)): texts.launchd_plist(entry).decode()}

    def install(self, entry: Entry) -> bool:
        self.require()
        path = self.path(entry)
        changed = _write_if_changed(path, texts.launchd_plist(entry))
        domain = f"gui/{self.uid}"
        # bootstrap refuses a label that is already loaded: unload the old one first.
        self.run(["launchctl", "bootout", f"{domain}/{entry.label}"], None)
        argv = ["launchctl", "bootstrap", domain, str(path)]
        done = self.run(argv, None)
        if done.returncode != 0:
            raise _failed(argv, done, f"check {path} with `plutil -lint {path}`")
        return changed

    def remove(self, entry: Entry) -> bool:
        path = self.path(entry)
        if not path.exists():
            return False
        if self.which("launchctl") is not None:
            self.run(["launchctl", "bootout", f"gui/{self.uid}/{entry.label}"], None)
        path.unlink()
        return True

    def find(self, entry: Entry) -> Installed | None:
        path = self.path(entry)
        try:
            times = texts.plist_times(path.read_bytes())
        except FileNotFoundError:
            return None
        if times is None:
            return None
        active = None
        if self.which("launchctl") is not None:
            done = self.run(["launchctl", "print", f"gui/{self.uid}/{entry.label}"], None)
            active = done.returncode == 0
        return Installed(self.name, str(path), times, active)


Backend = Cron | Systemd | Launchd
