"""Shared fixtures: a hermetic home, the real test receiver, the real CLI in a subprocess, the
stand-in site with a profile logged in to it, and a read without a browser (the oauth source)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import inprocess
import pytest
from cli_login import login_command
from shared_chrome import shared_chrome as shared_chrome
from support.oauth import TOKEN, OAuthStandIn, write_credentials
from support.receiver import ScriptedReceiver
from support.site import TroubledSite
from support.warm import Warm, executed, needs_exec


def pytest_configure(config: pytest.Config) -> None:
    """Children get default signal handling however the suite was started.

    Under `nohup`, `&` or some CI runners SIGINT/SIGHUP are ignored, and an ignored signal stays
    ignored across exec: the signal tests' children would then never see the signal sent to them.
    A Python handler (this process still ignores the signal) is reset to the default on exec.
    """
    for name in ("SIGINT", "SIGHUP", "SIGTERM"):
        number = getattr(signal, name)
        if signal.getsignal(number) is signal.SIG_IGN:
            signal.signal(number, _ignore)
    config.addinivalue_line(
        "markers", "inprocess: `cli` runs what needs no process of its own here (inprocess.py)"
    )


def _ignore(number: int, frame: object) -> None:
    """Ignore a signal in this process only (children start with the default)."""


#: Modules whose tests take longest (a soak of 25 runs, 7 runs filling caches): started first,
#: so that none of them begins when the other workers are about to run out of tests.
LONG_FIRST = ("test_soak.py", "test_bounded.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort keeps each module's tests together (and its module fixtures set up once).
    order = {name: place for place, name in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: order.get(item.path.name, len(order)))


#: The API key used by every test; asserted absent from every captured output.
SECRET_KEY = "sk-test-7Hq2-never-print-me-91c"

#: The session cookie the stand-in site accepts; asserted absent from the login's output.
SESSION_KEY = "sk-ant-sid01-test-session-cookie-value"

SAMPLE = {
    "currentSession": {"resetsIn": "2 hr 42 min", "percentageUsed": 47},
    "weeklyLimits": {
        "allModels": {"resetsIn": "Thu 7:00 AM", "percentageUsed": 31},
        "sonnetOnly": {"resetsIn": "Sat 12:00 PM", "percentageUsed": 10},
    },
    "lastUpdated": "2026-11-29T01:17:41.123Z",
    "isPartial": False,
    "source": "page",
}

#: Weekly rows as the usage page labels them, with the key each is stored under.
MODEL_ROWS = [
    ("Sonnet only", "sonnetOnly"),
    ("Opus only", "opusOnly"),
    ("Fable", "fableOnly"),
    ("Claude Design", "claudeDesignOnly"),
]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty CONSOLESCRAPE_HOME; the environment holds no consolescrape or sync settings."""
    for name in list(os.environ):
        if name.startswith(("CLAUDE_", "CONSOLESCRAPE_")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("CONSOLESCRAPE_HOME", str(home))
    monkeypatch.chdir(tmp_path)  # no stray ./.env from the developer's checkout
    return home


@pytest.fixture
def receiver() -> Iterator[ScriptedReceiver]:
    with ScriptedReceiver(api_key=SECRET_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def site() -> Iterator[TroubledSite]:
    """The stand-in site, one per test module (tests that change it reset it); it can also be
    told to answer some paths with trouble (`answer()`)."""
    with TroubledSite(session_key=SESSION_KEY) as server:
        yield server


@pytest.fixture(scope="session")
def logged_in_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A profile logged in by the real `consolescrape login`, once for the suite: the first test
    worker that needs it logs in while the others wait on a lock in the directory that the
    workers of one run share. The session cookie is the host's (127.0.0.1, whatever the port):
    it logs in to every module's stand-in. Tests use copies of it (`profile`)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = shared / "logged-in" / "profile"
    with open(shared / "logged-in.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = path.parent / "done"
        if not done.exists():
            _log_in(path)
            done.touch()
    return path


def _log_in(path: Path) -> None:
    with TroubledSite(session_key=SESSION_KEY) as site:
        done = subprocess.run(
            login_command(
                site.url, "--profile-dir", str(path), "--home", str(path.parent / "home")
            ),
            input=SESSION_KEY,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert SESSION_KEY not in done.stdout + done.stderr


@pytest.fixture(scope="module")
def profile(logged_in_profile: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A logged-in profile shared by the tests of a module (they run one at a time): a copy of
    the suite's, so that no module sees what another left in it."""
    path = tmp_path_factory.mktemp("module-profile") / "profile"
    shutil.copytree(
        logged_in_profile, path, symlinks=True, ignore=shutil.ignore_patterns("Singleton*")
    )
    return path


#: Where no browser is: a run that started one would fail saying so.
NO_BROWSER = "/nonexistent/consolescrape-test/chrome"


def oauth_settings(user_home: Path, endpoint: OAuthStandIn) -> dict[str, str]:
    """The oauth source against `endpoint`, with Claude Code's files under `user_home` (the
    command's HOME) and no browser that could start."""
    return {
        "HOME": str(user_home),
        "CLAUDE_CONFIG_DIR": str(user_home / ".claude"),
        "CONSOLESCRAPE_SOURCE": "oauth",
        "CONSOLESCRAPE_OAUTH_URL": endpoint.url,
        "CONSOLESCRAPE_CHROME_BINARY": NO_BROWSER,
        "CONSOLESCRAPE_CHROMEDRIVER": NO_BROWSER + "driver",
    }


@pytest.fixture
def oauth_endpoint() -> Iterator[OAuthStandIn]:
    """The loopback stand-in of Claude Code's usage endpoint; it accepts the token that
    `oauth_env` (and support.oauth.write_credentials) holds."""
    with OAuthStandIn(TOKEN) as server:
        yield server
    # Nothing but the usage endpoint is ever asked: no token refresh, no other path.
    assert all(seen == "GET /api/oauth/usage" for seen in server.requests), server.requests


@pytest.fixture
def oauth_env(tmp_path: Path, oauth_endpoint: OAuthStandIn) -> dict[str, str]:
    """Settings for a run that reads without a browser: a valid token → one GET of
    `oauth_endpoint`, whose answer a test sets with `oauth_endpoint.configure(body=...)`.

    Whatever read it, a snapshot goes the same way through a run: saved, queued, sent, added
    to the history, alerted on, written to the metrics, recorded, and stopped by a signal at
    any of those steps. The tests of those steps read this way, at a third of the cost of a
    browser run. What only a browser shows (the page, its launch, deadline and tear-down, the
    processes on the profile) is tested with one: test_browser, test_run, test_soak and more.
    """
    user_home = tmp_path / "claude-user"
    write_credentials(user_home / ".claude")
    return oauth_settings(user_home, oauth_endpoint)


CLI = Callable[..., Result]


@pytest.fixture(scope="session")
def warm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warm]:
    """This worker's server of warm `consolescrape` processes (support/warm.py)."""
    server = Warm(tmp_path_factory.getbasetemp())
    yield server
    server.close()


@pytest.fixture
def cli(home: Path, request: pytest.FixtureRequest, warm: Warm) -> CLI:
    """Run the real `consolescrape` in a process of its own (forked from a warm interpreter,
    support/warm.py); fail if the API key shows in its output.

    In a test marked `inprocess`, a command that needs no process of its own (a view, parsing,
    help, a usage error: `inprocess.can_run`) runs in the test's process, with the same result.
    """
    here = request.node.get_closest_marker("inprocess") is not None

    def run(
        *args: str,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        timeout: float = 120,
    ) -> Result:
        if here and inprocess.can_run(args):
            code, stdout, stderr = inprocess.run(args, env=env, stdin=stdin)
        else:
            start = executed if needs_exec(env or {}) else warm.run
            done = start(
                list(args), env={**os.environ, **(env or {})}, stdin=stdin, timeout=timeout
            )
            code, stdout, stderr = done.returncode, done.stdout, done.stderr
        for stream in (stdout, stderr):
            assert SECRET_KEY not in stream, "the API key leaked into the output"
        return Result(code, stdout, stderr)

    return run


Spawn = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start the real CLI in the background (text mode); whatever is still running at the end of
    the test is killed, so a failed assertion never leaves a run holding a profile or a lock."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, env: dict[str, str] | None = None, **popen: Any) -> subprocess.Popen[str]:
        popen.setdefault("stdout", subprocess.DEVNULL)
        popen.setdefault("stderr", subprocess.PIPE)
        proc = subprocess.Popen(
            [sys.executable, "-m", "consolescrape", *args],
            env={**os.environ, **(env or {})},
            text=True,
            **popen,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()  # its own clean-up first: the browser goes with it
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.communicate(timeout=30)


@pytest.fixture
def own_profile(profile: Path, tmp_path: Path) -> Path:
    """A private copy of the module's logged-in profile, for tests that kill runs on it."""
    copy = tmp_path / "own-profile"
    shutil.copytree(profile, copy, symlinks=True, ignore=shutil.ignore_patterns("Singleton*"))
    return copy


def sync_env(receiver: ScriptedReceiver, **extra: str) -> dict[str, str]:
    """Settings that point sync at the test receiver with the right key and a short deadline."""
    return {
        "CLAUDE_SYNC_URL": receiver.url,
        "CLAUDE_SYNC_API_KEY": SECRET_KEY,
        "CLAUDE_SYNC_DEADLINE": "8",
        **extra,
    }


def via_typer(*args: str, env: dict[str, str] | None = None) -> Result:
    """`consolescrape *args` through typer, as an install whose script still calls `cli` runs
    it: what the front door (`__main__`) answers must be the same this way."""
    done = subprocess.run(
        [sys.executable, "-c", "from consolescrape.cli import main; main()", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def write_snapshot(path: Path, doc: dict[str, Any] | None = None, **changes: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**(doc or SAMPLE), **changes}))
    return path


def processes_mentioning(text: str | Path) -> list[int]:
    """Pids of non-Python processes (Chrome, chromedriver) whose command line contains `text`."""
    found = []
    needle = str(text).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if needle in cmdline and b"python" not in cmdline.split(b"\0")[0]:
            found.append(int(entry))
    return found


def metric_samples(path: Path) -> dict[str, str]:
    """The samples of a metrics textfile by name and labels, without the `home` label that
    every sample carries (one value per home: the tests' files hold one home each)."""
    samples = {}
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        name = re.sub(r'(,?)home="(?:[^"\\]|\\.)*"', "", name).replace("{,", "{").replace("{}", "")
        samples[name] = value
    return samples


def file_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def trickling_server() -> Iterator[str]:
    """An endpoint that answers one header byte per second, never finishing (bounded to 30 s)."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 30:
                    if stop.wait(1.0):
                        break
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/claude/console-usage"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@contextlib.contextmanager
def tmpfs(mount: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "64k") mounted on the existing directory `mount`, for a full
    disk (needs root, or a system that lets this user mount, as CI has).

    Fails rather than skips where it cannot mount: a skipped test would check nothing.
    """
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs here (run the tests as root): {done.stderr!r}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def pings() -> Iterator[tuple[str, list[str]]]:
    """A healthchecks.io-style ping URL on 127.0.0.1 that answers 200, and the paths it got."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/ping/abc", seen
    finally:
        server.shutdown()
        server.server_close()
