"""Helpers for tests that hold a real `consolescrape run` at one of its steps and signal it: a
notifier that reports itself and can hang, a server that never answers, process and lock
look-ups."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from conftest import processes_mentioning

#: The notifier: appends what it read on stdin, its pid, its grandchild's pid and the time to
#: $ALERT_LOG, then sleeps $ALERT_SLEEP seconds (a grandchild `sleep` holding the same time)
#: and exits 0.
NOTIFIER = """
import json, os, subprocess, sys, time
doc = json.loads(sys.stdin.read())
pause = os.environ.get("ALERT_SLEEP", "0")
grandchild = subprocess.Popen(["sleep", pause]) if float(pause) > 0 else None
doc.update(pid=os.getpid(), grandchild=grandchild and grandchild.pid, at=time.time())
with open(os.environ["ALERT_LOG"], "a") as log:
    log.write(json.dumps(doc) + "\\n")
time.sleep(float(pause))
"""


def notifier(path: Path) -> Path:
    path.write_text(f"#!{sys.executable}\n{NOTIFIER}")
    path.chmod(0o755)
    return path


def alerts_logged(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line.endswith("}")]


def start_run(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`consolescrape run` in the background, its output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "consolescrape", "run", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(what: str, check: Callable[[], object], proc: subprocess.Popen[str]) -> None:
    """Poll `check` (every 5 ms, up to 60 s) while the run is alive; fail saying `what`."""
    until = time.monotonic() + 60
    while not check():
        if proc.poll() is not None:
            _out, err = proc.communicate()
            raise AssertionError(f"the run ended ({proc.returncode}) before {what}: {err}")
        assert time.monotonic() < until, f"never reached: {what}"
        time.sleep(0.005)


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie is not)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def children_of(pid: int, name: str) -> list[int]:
    """Live children of `pid` whose command name contains `name`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        comm, rest = stat[stat.find("(") + 1 : stat.rfind(")")], stat[stat.rfind(")") + 2 :]
        fields = rest.split()
        if int(fields[1]) == pid and name in comm and fields[0] not in ("Z", "X"):
            found.append(int(entry))
    return found


def started_for(home: Path) -> list[int]:
    """Live processes a run of `home` started: they carry the run's marker and that home in
    their environment (chromedriver, Chrome, alert commands and what those started)."""
    found = []
    marker, wanted = b"_CONSOLESCRAPE_RUN=", f"CONSOLESCRAPE_HOME={home}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                environ = handle.read().split(b"\0")
        except OSError:
            continue
        if wanted in environ and any(v.startswith(marker) for v in environ) and alive(int(entry)):
            found.append(int(entry))
    return found


def assert_nothing_left(home: Path, profile: Path | None = None) -> None:
    """No process a run of `home` started is alive, nor anything on `profile` (a test's own
    clean-up ends what a failed test left first)."""
    left = started_for(home)
    kill_all(left)
    assert left == [], "a process started by a run outlived the test"
    if profile is None:
        return
    on_profile = [pid for pid in processes_mentioning(profile) if alive(pid)]
    kill_all(on_profile)
    assert on_profile == [], "a Chrome or chromedriver outlived the command"


def lock_is_free(path: Path) -> bool:
    """Whether nobody holds the lock on `path` (a run's run.lock)."""
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True


def kill_all(pids: list[int]) -> None:
    """The test's own clean-up of what a failed assertion may have left."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, 9)


class Silent:
    """A server on 127.0.0.1 that accepts connections and never answers (until stopped)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/ping/abc"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections.append(conn)

    def __enter__(self) -> Silent:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self.connections:
            conn.close()
        self.listener.close()
