"""The processes a run starts (chromedriver, alert commands): recorded in the home, each in its
own process group, and ended with that group whatever ends the run.

A SIGKILL runs no clean-up code, so while a run has children it keeps a small record in the home
(`children.json`, 0600): a random token every child carries in its environment, and the pid and
start time of each group leader. The next run reads it and ends what is left: a group whose
leader has the recorded start time (a pid the system gave to another process since has another
one), and any process carrying the token, wherever it went. No Selenium here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from consolescrape import signals, store

logger = logging.getLogger(__name__)

RECORD = "children.json"
#: The variable that marks our children. Not CONSOLESCRAPE_*: an alert command that runs
#: consolescrape itself must not see it as a setting.
MARKER = "_CONSOLESCRAPE_RUN"
#: After SIGTERM, how long the leftovers get before SIGKILL (Chrome writes its cookies out).
TERM_GRACE = 1.0
KILL_GRACE = 2.0


def start_time(pid: int) -> str | None:
    """When `pid` started (an opaque string), or None when no such live process exists.

    With the pid, it names one process: a pid reused by the system has a later start time.
    """
    if sys.platform.startswith("linux"):
        fields = _stat_fields(pid)
        if fields is None or fields[0] in ("Z", "X"):
            return None
        return fields[19]  # field 22 of /proc/<pid>/stat: start time in clock ticks after boot
    try:
        done = subprocess.run(
            ["ps", "-o", "stat=,lstart=", "-p", str(pid)],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    state, _, started = done.stdout.strip().partition(" ")
    if not state or state.startswith("Z"):
        return None
    return started.strip() or None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()


def marked(token: str) -> list[int]:
    """Live processes whose environment carries `token` (Linux; elsewhere none are found)."""
    if not token or not os.path.isdir("/proc"):
        return []
    needle = f"{MARKER}={token}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:  # gone, or not ours to read
            continue
        if needle in environ.split(b"\0") and start_time(int(entry)) is not None:
            found.append(int(entry))
    return found


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = store.read_json(path)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, RecursionError) as exc:
        logger.debug(f"children: {path} is unreadable ({exc}); only the token scan is lost")
        return {}
    return doc if isinstance(doc, dict) else {}


def _groups(doc: Mapping[str, Any]) -> list[tuple[int, str]]:
    found = []
    for group in doc.get("groups") or []:
        if isinstance(group, dict):
            pid, started = group.get("pid"), group.get("start")
            if isinstance(pid, int) and pid > 1 and isinstance(started, str):
                found.append((pid, started))
    return found


def _left(groups: list[tuple[int, str]], token: str) -> tuple[list[int], list[int]]:
    """(leaders still the recorded processes, other processes carrying the token)."""
    leaders = [pid for pid, started in groups if start_time(pid) == started]
    return leaders, [pid for pid in marked(token) if pid not in leaders]


def _signal(leaders: list[int], others: list[int], sig: int) -> None:
    for pid in leaders:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
    for pid in others:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def end_leftovers(path: Path) -> list[int]:
    """End what a killed run left (from its record at `path`), then remove the record.

    Returns the pids found. Call under the run lock: the record is then surely not a live run's.
    """
    doc = _read(path)
    groups, token = _groups(doc), str(doc.get("token") or "")
    leaders, others = _left(groups, token) if doc else ([], [])
    found = leaders + others
    if found:
        what = ", ".join(str(g.get("what")) for g in doc.get("groups") or [] if isinstance(g, dict))
        logger.debug(f"children: ending {found} left by a killed run ({what or 'unrecorded'})")
        pause = threading.Event()
        for sig, grace in ((signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, KILL_GRACE)):
            _signal(leaders, others, sig)
            until = time.monotonic() + grace
            while (leaders or others) and time.monotonic() < until:
                pause.wait(0.02)
                leaders, others = _left(groups, token)
            if not (leaders or others):
                break
        if leaders or others:
            logger.debug(f"children: could not end {leaders + others}")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return found


class Record:
    """The record of this run's children in the home; entering it ends a killed run's leftovers,
    leaving it ends every group still recorded and removes the record."""

    def __init__(self, home: Path) -> None:
        self.path = home / RECORD
        self.token = secrets.token_hex(16)
        self._groups: dict[int, dict[str, Any]] = {}
        self._written = False
        self._lock = threading.Lock()  # the browser's watchdog thread may end its group

    def __enter__(self) -> Record:
        end_leftovers(self.path)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with signals.deferred():
            for pid, group in list(self._groups.items()):
                if start_time(pid) == group["start"]:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
            self._groups.clear()
            if self._written:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` plus the token; the record is on disk before a child can carry it."""
        with self._lock:
            if not self._written:
                self._write()
        return {**base, MARKER: self.token}

    def started(self, pid: int, what: str) -> None:
        """A group leader we just started (its own session: its pid is its group's id)."""
        began = start_time(pid)
        if began is None:
            return  # already gone (and not reaped by us yet: no other process has the pid)
        with self._lock:
            self._groups[pid] = {"pid": pid, "start": began, "what": what}
            self._write()

    def ended(self, pid: int) -> None:
        """The group of `pid` is gone (its leader was reaped by us)."""
        with self._lock:
            if self._groups.pop(pid, None) is not None:
                self._write()

    def _write(self) -> None:
        doc = {"token": self.token, "pid": os.getpid(), "groups": list(self._groups.values())}
        # No fsync: the record matters only while its processes live, and a power loss ends
        # them too. A failure here costs only the clean-up after a SIGKILL: never the run.
        try:
            store.write_atomic(self.path, json.dumps(doc).encode(), mode=0o600, durable=False)
        except OSError as exc:
            logger.debug(f"children: {self.path} not written ({exc.strerror or exc})")
            return
        self._written = True


class Child:
    """One command in its own session (so its own process group), stdin given and closed."""

    def __init__(self, popen: subprocess.Popen[bytes], name: str, errors: IO[bytes]) -> None:
        self.popen = popen
        self.name = name
        self.errors = errors
        self.returncode: int | None = None
        self.stopped = False

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exited(self) -> bool:
        """Whether the leader has exited; it is not reaped, so its pid (the group's id) cannot
        go to another process before `end` kills the group."""
        if self.returncode is not None:
            return True
        if hasattr(os, "waitid"):
            try:
                flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
                return os.waitid(os.P_PID, self.pid, flags) is not None
            except ChildProcessError:
                return True
        return self.popen.poll() is not None  # reaped: the group is killed a moment later

    def end(self, record: Record | None) -> int:
        """Kill what is left of the group (a stopped leader counts as stopped), reap the leader."""
        if self.returncode is None:
            self.stopped = not self.exited()
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            self.returncode = self.popen.wait()
            if record is not None:
                record.ended(self.pid)
        return self.returncode


def spawn(
    argv: list[str], stdin: bytes, env: Mapping[str, str], record: Record | None, errors: IO[bytes]
) -> Child:
    """Start `argv` (no shell) in its own session, recorded, with `stdin` written and closed.

    Its output goes nowhere and its stderr to `errors` (a file: a grandchild holding a pipe open
    would keep a reader waiting past any deadline). Raises OSError when it cannot start.
    """
    with signals.deferred():  # a signal between the start and the record would lose the group
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=record.environment(env) if record is not None else dict(env),
            start_new_session=True,
        )
        child = Child(popen, os.path.basename(argv[0]), errors)
        if record is not None:
            record.started(popen.pid, child.name)
    assert popen.stdin is not None
    # Far below a pipe's buffer: this never waits on a child that does not read.
    with contextlib.suppress(BrokenPipeError), popen.stdin:
        popen.stdin.write(stdin)
    return child


def wait(children: list[Child], until: float) -> None:
    """Wait until every leader has exited or the monotonic time `until` has come."""
    pause = threading.Event()
    while not all(child.exited() for child in children) and time.monotonic() < until:
        pause.wait(min(0.02, max(0.0, until - time.monotonic())))


@contextlib.contextmanager
def ended(children: list[Child], record: Record | None) -> Iterator[list[Child]]:
    """Every group in `children` is killed and reaped when the block ends, however it ends."""
    try:
        yield children
    finally:
        with signals.deferred():
            for child in children:
                child.end(record)
