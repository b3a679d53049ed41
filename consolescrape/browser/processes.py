"""Chrome processes on our profile: finding them, ending them, and a stale SingletonLock.

After a SIGKILL of the Python process, chromedriver and every Chrome process stay alive and keep
the profile's SingletonLock; the next launch then fails with only "Chrome instance exited". So
start-up clean-up is not optional. No Selenium here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

SINGLETON_FILES = ("SingletonLock", "SingletonSocket", "SingletonCookie")


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    name: str
    args: list[str]


def _processes() -> list[Process]:
    """Every live process we can see (zombies left out: they hold nothing)."""
    if sys.platform.startswith("linux") and os.path.isdir("/proc"):
        return _proc_processes()
    return _ps_processes()


def _proc_processes() -> list[Process]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                raw = handle.read()
        except OSError:
            continue
        name, rest = stat[stat.find("(") + 1 : stat.rfind(")")], stat[stat.rfind(")") + 2 :]
        fields = rest.split()
        if not fields or fields[0] in ("Z", "X"):
            continue
        args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        found.append(Process(int(entry), int(fields[1]), name, args))
    return found


def _ps_processes() -> list[Process]:
    # macOS and the BSDs: `ps` flattens the arguments into one string; good enough to find ours.
    try:
        done = subprocess.run(
            ["ps", "-axww", "-o", "pid=,ppid=,stat=,command="],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = []
    for line in done.stdout.splitlines():
        parts = line.split(None, 3)
        if len(parts) < 4 or not parts[0].isdigit() or parts[2].startswith("Z"):
            continue
        command = parts[3]
        found.append(
            Process(int(parts[0]), int(parts[1]), Path(command.split()[0]).name, [command])
        )
    return found


def _profile_arg_matches(process: Process, profile: Path) -> bool:
    wanted = {str(profile), str(profile.resolve())}
    for arg in process.args:
        for path in wanted:
            flag = f"--user-data-dir={path}"
            if arg == flag or arg.rstrip("/") == flag.rstrip("/"):
                return True
            if len(process.args) == 1 and (f"{flag} " in arg or arg.endswith(flag)):
                return True
    return False


def profile_processes(profile: Path) -> list[Process]:
    """Chrome processes using `profile`, and the chromedriver that started them."""
    every = _processes()
    by_pid = {p.pid: p for p in every}
    ours = [p for p in every if p.pid != os.getpid() and _profile_arg_matches(p, profile)]
    drivers = {
        by_pid[p.ppid].pid
        for p in ours
        if p.ppid in by_pid and "chromedriver" in by_pid[p.ppid].name.lower()
    }
    return ours + [by_pid[pid] for pid in drivers]


def is_browser(process: Process) -> bool:
    """Chrome's browser process (its helpers carry --type=renderer, --type=gpu-process, …)."""
    return "chromedriver" not in process.name.lower() and not any(
        arg.startswith("--type=") or " --type=" in arg for arg in process.args
    )


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def wait_gone(profile: Path, timeout: float) -> list[Process]:
    """Wait (bounded) until no process uses the profile; returns what is left."""
    until = time.monotonic() + timeout
    left = profile_processes(profile)
    pause = threading.Event()
    while left and time.monotonic() < until:
        pause.wait(0.02)
        left = profile_processes(profile)
    return left


def cleanup_profile(profile: Path) -> None:
    """End processes left on `profile` by a killed run and clear a stale SingletonLock."""
    left = profile_processes(profile)
    if left:
        pids = [p.pid for p in left]
        logger.debug(f"profile: ending {len(pids)} process(es) left by an earlier run: {pids}")
        # SIGTERM first: Chrome then writes its cookies out; SIGKILL whatever does not go.
        signal_all(pids, signal.SIGTERM)
        left = wait_gone(profile, 1.0)
        signal_all([p.pid for p in left], signal.SIGKILL)
        left = wait_gone(profile, 2.0)
        if left:
            logger.debug(f"profile: could not end {[p.pid for p in left]}")
    clear_singleton(profile)


def clear_singleton(profile: Path) -> None:
    lock = profile / "SingletonLock"
    try:
        target = os.readlink(lock)
    except FileNotFoundError:
        return
    except OSError:
        # Chrome's lock is always a symlink to "host-pid"; a plain file (a profile copied by a
        # tool that follows links) blocks the launch with only "Chrome instance exited". We
        # hold the profile lock and ended every process on it, so nothing owns this file.
        target = "a plain file, not Chrome's link"
        if any(is_browser(p) for p in profile_processes(profile)):
            return
        for name in SINGLETON_FILES:
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                (profile / name).unlink()
        logger.debug(f"profile: cleared a stale SingletonLock ({target})")
        return
    host, _, pid_text = target.rpartition("-")
    if host == socket.gethostname():
        pid = int(pid_text) if pid_text.isdigit() else 0
        if pid and any(p.pid == pid for p in profile_processes(profile)):
            return  # a live browser on this profile that would not end; Chrome will say so
    else:
        logger.debug(
            f"profile: the lock names another host ({host or '?'}); clearing it. If another "
            "machine really uses this profile (a shared disk), give each machine its own profile"
        )
    for name in SINGLETON_FILES:
        with contextlib.suppress(FileNotFoundError):
            (profile / name).unlink()
    logger.debug(f"profile: cleared a stale SingletonLock ({target})")
