"""The browser phase: launch Chrome with the profile, open the usage page, read it, quit.

The only module that imports Selenium (inside functions, so importing this module stays cheap).
SPEC §6 "Scraping" is the contract; the parts that are easy to get wrong:

- one deadline for the whole phase: our own waits end a little before it (to leave time for
  debug files and quit), and a watchdog thread kills chromedriver's process group and every
  process on our profile at the deadline itself, so even a Selenium call that blocks fails;
- `finally` always quits, bounded, then kills whatever is left; SIGTERM/SIGINT/SIGHUP raise
  SystemExit during the phase so `finally` runs (Python skips it on a default SIGTERM);
- at start-up, processes and a SingletonLock left by a killed earlier run are cleared: Chrome
  would otherwise refuse the profile with only "Chrome instance exited".
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit

from consolescrape import extract, store
from consolescrape.config import KEY_VARIABLE, Settings
from consolescrape.errors import (
    ConfigError,
    ConsolescrapeError,
    LoggedOut,
    NoPlanLimits,
    ScrapeFailed,
    UsageError,
)
from consolescrape.extract import PageKind
from consolescrape.model import Snapshot

if TYPE_CHECKING:
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.chrome.webdriver import WebDriver

Log = Callable[[str], None]


def _quiet(message: str) -> None:
    """The default log: say nothing."""


CHROME_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
MAC_CHROMES = (
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
)
SINGLETON_FILES = ("SingletonLock", "SingletonSocket", "SingletonCookie")
#: Polling interval of the explicit waits: content that appears is seen within this.
POLL = 0.1
#: A usage page that shows some limits but not all, unchanged for this long, is complete.
SETTLE = 1.0
#: A usage page that shows no limit yet may still be filling its rows: give it longer.
SETTLE_EMPTY = 3.0
#: How long a page that landed off the usage route may take to route there by itself.
OFF_ROUTE_GRACE = 2.0
#: A normal quit takes ~0.15 s; one still running after this waits behind a blocked command.
QUIT_PATIENCE = 1.0
#: Bound on driver.quit(); past it the process group is killed.
QUIT_GRACE = 5.0
#: Per request to the site's JSON endpoint.
API_TIMEOUT = 10.0
#: Once the endpoint has answered with limits, the page gets this long to add what it lacks.
API_PATIENCE = 5.0
#: The profile remembers which browser version its user agent was built from.
VERSION_CACHE = "consolescrape-browser.json"

LOGIN_ADVICE = "run `consolescrape login` (or `consolescrape login --session-key-stdin`)"
BOT_ADVICE = (
    'the site showed a bot check ("Just a moment..."); open it once in a visible browser with '
    "`consolescrape login` to pass it, or try again later"
)


# --- finding the browser -------------------------------------------------------------------------


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_browser(settings: Settings) -> tuple[Path, Path]:
    """(Chrome, chromedriver): configured paths, else PATH, else Selenium Manager for the driver."""
    if settings.chrome_binary is not None:
        chrome = settings.chrome_binary
        if not _executable(chrome):
            raise ConfigError(
                f"CONSOLESCRAPE_CHROME_BINARY {chrome}: no such executable",
                "point it at Chrome or Chromium, or unset it to search PATH",
            )
    else:
        found = next((p for p in map(shutil.which, CHROME_NAMES) if p), None)
        if found is None and sys.platform == "darwin":
            found = next((p for p in MAC_CHROMES if _executable(Path(p))), None)
        if found is None:
            raise ScrapeFailed(
                "no Chrome or Chromium found (looked for " + ", ".join(CHROME_NAMES) + ")",
                "install Chromium (Debian/Ubuntu: apt install chromium chromium-driver) "
                "or set CONSOLESCRAPE_CHROME_BINARY",
            )
        chrome = Path(found)
    if settings.chromedriver is not None:
        if not _executable(settings.chromedriver):
            raise ConfigError(
                f"CONSOLESCRAPE_CHROMEDRIVER {settings.chromedriver}: no such executable",
                "point it at chromedriver, or unset it to search PATH",
            )
        return chrome, settings.chromedriver
    driver = shutil.which("chromedriver")
    if driver is not None:
        return chrome, Path(driver)
    return chrome, _driver_from_selenium_manager(chrome, settings.timeout)


def _driver_from_selenium_manager(chrome: Path, timeout: float) -> Path:
    """Last resort: Selenium Manager (network!), without usage statistics, with a short timeout."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    # Without these it reports to plausible.io and waits up to 300 s on a silent network.
    os.environ["SE_AVOID_STATS"] = "true"
    args = ["--browser", "chrome", "--browser-path", str(chrome), "--avoid-stats"]
    args += ["--timeout", str(max(5, int(min(30.0, timeout / 3))))]
    try:
        path = Path(SeleniumManager().binary_paths(args)["driver_path"])
    except (WebDriverException, KeyError, OSError, ValueError):
        path = Path()
    if not _executable(path):
        raise ScrapeFailed(
            "no chromedriver found on PATH, and Selenium Manager could not provide one",
            "install the chromedriver of your Chrome's version (Debian/Ubuntu: apt install "
            "chromium-driver) or set CONSOLESCRAPE_CHROMEDRIVER",
        )
    return path


HEADLESS_LOGIN_ADVICE = (
    "on a machine without a screen, copy the sessionKey cookie from a logged-in browser "
    "and run `consolescrape login --session-key-stdin`"
)


def _check_display(advice: str) -> None:
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise ConfigError("no display for a visible browser (DISPLAY is not set)", advice)


def binary_version(binary: Path) -> str | None:
    """The dotted version a Chrome or chromedriver binary prints for --version, if any."""
    try:
        done = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
            env=_child_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"\d+\.\d+\.\d+(?:\.\d+)?", done.stdout)
    return match.group(0) if match else None


def _user_agent(chrome: Path, profile: Path, log: Log) -> str | None:
    """A user agent like the headed browser's, so headless runs never say "HeadlessChrome".

    Built from the binary's version (cached in the profile until the binary changes: asking it
    costs a process start) and passed as --user-agent: unlike a CDP override, the flag keeps the
    Sec-CH-UA client hints and applies to every tab and worker.
    """
    try:
        info = chrome.resolve().stat()
    except OSError:
        return None
    stamp = [str(chrome), info.st_mtime_ns, info.st_size]
    cache = profile / VERSION_CACHE
    major = None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        doc = json.loads(cache.read_text(encoding="utf-8"))
        if doc["binary"] == stamp:
            major = int(doc["major"])
    if major is None:
        version = binary_version(chrome)
        if version is None:
            log(f"browser: no version in `{chrome} --version`; keeping its own user agent")
            return None
        major = int(version.split(".", 1)[0])
        with contextlib.suppress(OSError):
            store.write_private(cache, json.dumps({"binary": stamp, "major": major}).encode())
    # Chrome's reduced user agent: the platform part is frozen per OS, the version is MAJOR.0.0.0.
    if sys.platform == "darwin":
        system = "Macintosh; Intel Mac OS X 10_15_7"
    elif sys.platform == "win32":
        system = "Windows NT 10.0; Win64; x64"
    else:
        system = "X11; Linux x86_64"
    return (
        f"Mozilla/5.0 ({system}) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{major}.0.0.0 Safari/537.36"
    )


def _child_env() -> dict[str, str]:
    """Our environment without the sync key (or any other API key) for chromedriver and Chrome."""
    return {
        name: value
        for name, value in os.environ.items()
        if name != KEY_VARIABLE and "API_KEY" not in name.upper()
    }


# --- processes on the profile --------------------------------------------------------------------


@dataclass(frozen=True)
class _Process:
    pid: int
    ppid: int
    name: str
    args: list[str]


def _processes() -> list[_Process]:
    """Every live process we can see (zombies left out: they hold nothing)."""
    if sys.platform.startswith("linux") and os.path.isdir("/proc"):
        return _proc_processes()
    return _ps_processes()


def _proc_processes() -> list[_Process]:
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
        found.append(_Process(int(entry), int(fields[1]), name, args))
    return found


def _ps_processes() -> list[_Process]:
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
            _Process(int(parts[0]), int(parts[1]), Path(command.split()[0]).name, [command])
        )
    return found


def _profile_arg_matches(process: _Process, profile: Path) -> bool:
    wanted = {str(profile), str(profile.resolve())}
    for arg in process.args:
        for path in wanted:
            flag = f"--user-data-dir={path}"
            if arg == flag or arg.rstrip("/") == flag.rstrip("/"):
                return True
            if len(process.args) == 1 and (f"{flag} " in arg or arg.endswith(flag)):
                return True
    return False


def _profile_processes(profile: Path) -> list[_Process]:
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


def _is_browser(process: _Process) -> bool:
    """Chrome's browser process (its helpers carry --type=renderer, --type=gpu-process, …)."""
    return "chromedriver" not in process.name.lower() and not any(
        arg.startswith("--type=") or " --type=" in arg for arg in process.args
    )


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _wait_gone(profile: Path, timeout: float) -> list[_Process]:
    """Wait (bounded) until no process uses the profile; returns what is left."""
    until = time.monotonic() + timeout
    left = _profile_processes(profile)
    pause = threading.Event()
    while left and time.monotonic() < until:
        pause.wait(0.02)
        left = _profile_processes(profile)
    return left


def cleanup_profile(profile: Path, log: Log = _quiet) -> None:
    """End processes left on `profile` by a killed run and clear a stale SingletonLock."""
    left = _profile_processes(profile)
    if left:
        pids = [p.pid for p in left]
        log(f"profile: ending {len(pids)} process(es) left by an earlier run: {pids}")
        # SIGTERM first: Chrome then writes its cookies out; SIGKILL whatever does not go.
        _signal_all(pids, signal.SIGTERM)
        left = _wait_gone(profile, 1.0)
        _signal_all([p.pid for p in left], signal.SIGKILL)
        left = _wait_gone(profile, 2.0)
        if left:
            log(f"profile: could not end {[p.pid for p in left]}")
    _clear_singleton(profile, log)


def _clear_singleton(profile: Path, log: Log) -> None:
    lock = profile / "SingletonLock"
    try:
        target = os.readlink(lock)
    except FileNotFoundError:
        return
    except OSError:  # a plain file (not a symlink) is not Chrome's: leave it to Chrome
        return
    host, _, pid_text = target.rpartition("-")
    if host == socket.gethostname():
        pid = int(pid_text) if pid_text.isdigit() else 0
        if pid and any(p.pid == pid for p in _profile_processes(profile)):
            return  # a live browser on this profile that would not end; Chrome will say so
    else:
        log(
            f"profile: the lock names another host ({host or '?'}); clearing it. If another "
            "machine really uses this profile (a shared disk), give each machine its own profile"
        )
    for name in SINGLETON_FILES:
        with contextlib.suppress(FileNotFoundError):
            (profile / name).unlink()
    log(f"profile: cleared a stale SingletonLock ({target})")


# --- the deadline, signals and the browser's life ------------------------------------------------


class _Signals:
    """SIGTERM/SIGINT/SIGHUP raise SystemExit so `finally` runs; deferred while cleaning up."""

    NAMES = ("SIGTERM", "SIGINT", "SIGHUP")

    def __init__(self) -> None:
        self.old: dict[int, Any] = {}
        self.deferring = False
        self.pending: int | None = None

    def __enter__(self) -> _Signals:
        # Handlers can only be installed from the main thread; elsewhere the caller owns signals.
        if threading.current_thread() is threading.main_thread():
            for name in self.NAMES:
                number = getattr(signal, name, None)
                # An ignored signal stays ignored (`nohup` ignores SIGHUP on purpose).
                if number is not None and signal.getsignal(number) is not signal.SIG_IGN:
                    self.old[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number: int, frame: FrameType | None) -> None:
        if self.deferring:
            self.pending = number
            return
        raise SystemExit(128 + number)

    def defer(self) -> None:
        """From now on a signal is remembered, not raised: the clean-up must finish."""
        self.deferring = True

    def __exit__(self, *exc: object) -> None:
        for number, handler in self.old.items():
            signal.signal(number, handler)
        if self.pending is not None:
            raise SystemExit(128 + self.pending)


class _Browser:
    """One Chrome session on the profile: launched, watched by the deadline, always torn down."""

    def __init__(
        self, settings: Settings, *, headed: bool, seconds: float, log: Log, what: str
    ) -> None:
        self.settings = settings
        self.headed = headed
        self.log = log
        self.what = what
        self.seconds = seconds
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        # Our own waits stop this much earlier: debug files and quit need a moment.
        self.soft_deadline = self.deadline - min(2.0, seconds * 0.2)
        self.profile = settings.profile
        self.target = settings.usage_url
        self.service: Service | None = None
        self.driver: WebDriver | None = None
        self.expired = False
        self._cancel = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="deadline", daemon=True)
        self._signals = _Signals()
        self._tree_lock = threading.Lock()

    # -- time --

    def remaining(self) -> float:
        """Seconds our waits may still take."""
        return max(0.0, self.soft_deadline - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _watch(self) -> None:
        if self._cancel.wait(max(0.0, self.deadline - time.monotonic())):
            return
        self.expired = True
        self.log(f"browser: deadline of {self.seconds:g} s reached; killing the browser")
        self._kill_tree()

    def _kill_tree(self) -> None:
        """SIGKILL chromedriver's process group and anything else on our profile."""
        with self._tree_lock:
            process = getattr(self.service, "process", None)
            # Only while chromedriver is unreaped is its pid (= its group id) surely still ours.
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
            _signal_all([p.pid for p in _profile_processes(self.profile)], signal.SIGKILL)

    # -- life cycle --

    def __enter__(self) -> _Browser:
        self._signals.__enter__()
        try:
            self._watchdog.start()
            self._launch()
        except BaseException as exc:
            self._close()
            if not isinstance(exc, Exception) or isinstance(exc, ConsolescrapeError):
                raise
            if self.expired:
                raise self._timeout() from None
            failure = _browser_failure(exc, starting=True)
            if failure is not None:
                raise failure from exc
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(exc, Exception) and self.driver is not None and not self.expired:
            self._save_debug()
        self._close()
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, ConsolescrapeError):
            return
        if self.expired:
            raise self._timeout() from None
        failure = _browser_failure(exc, starting=False)
        if failure is not None:
            raise failure from exc

    def _timeout(self) -> ScrapeFailed:
        return ScrapeFailed(
            f"timed out: {self.what} took longer than {self.seconds:g} s",
            "raise --timeout / CONSOLESCRAPE_TIMEOUT if the site is slow; debug files are in "
            f"{self.settings.debug_dir}",
        )

    def _launch(self) -> None:
        from selenium.webdriver import Chrome, ChromeOptions
        from selenium.webdriver.chrome.service import Service

        if self.headed:
            _check_display("run without --headed (or set DISPLAY)")
        chrome, driver_path = find_browser(self.settings)
        store.private_dir(self.profile)
        cleanup_profile(self.profile, self.log)
        options = ChromeOptions()
        options.binary_location = str(chrome)
        for flag in _chrome_flags(self.profile, headed=self.headed):
            options.add_argument(flag)
        user_agent = _user_agent(chrome, self.profile, self.log)
        if user_agent:
            options.add_argument(f"--user-agent={user_agent}")
        options.add_experimental_option("excludeSwitches", ["enable-automation"])
        options.add_experimental_option("useAutomationExtension", False)
        options.add_experimental_option(
            "prefs",
            {
                # No images: nothing we read is one. Measured on a page with 12 large images:
                # 0.2 s faster and ~60 MiB less browser memory (no difference on the sample).
                "profile.managed_default_content_settings.images": 2,
                "intl.accept_languages": "en-US,en",
                # Start on about:blank, not the New Tab page: chromedriver waits for the NTP to
                # load before the first navigation, and the NTP waits on DNS for its search
                # engine and Google accounts (measured: +5 s on a network that drops lookups).
                "session.restore_on_startup": 4,
                "session.startup_urls": ["about:blank"],
                "credentials_enable_service": False,
                "profile.password_manager_enabled": False,
            },
        )
        # "eager": get() returns at DOMContentLoaded; our waits then look for the content itself.
        options.page_load_strategy = "eager"
        budget_ms = int(max(1.0, self.remaining()) * 1000)
        options.timeouts = {"pageLoad": budget_ms, "script": min(budget_ms, 30_000)}
        self.service = Service(
            executable_path=str(driver_path),
            env=_child_env(),
            # Its own process group: the whole tree can be killed if quit() stalls.
            popen_kw={"start_new_session": True},
        )
        self.driver = Chrome(options=options, service=self.service)
        self.log(f"browser: {chrome.name} launched in {self.elapsed():.2f} s")

    def _save_debug(self) -> None:
        """The page's HTML and a screenshot of the failure, 0600, replacing the previous ones."""
        driver = self.driver
        if driver is None:
            return
        directory = self.settings.debug_dir
        try:
            html = driver.page_source
            png = driver.get_screenshot_as_png()
            store.private_dir(directory)
            store.write_private(directory / "page.html", html.encode())
            store.write_private(directory / "screenshot.png", png)
        except Exception as exc:  # debug files must not replace the real error
            self.log(f"debug: could not save the page ({type(exc).__name__})")
            return
        self.log(f"debug: saved page.html and screenshot.png in {directory}")

    def _close(self) -> None:
        self._signals.defer()
        try:
            began = time.monotonic()
            driver, self.driver = self.driver, None
            if driver is not None and not self.expired:
                quitter = threading.Thread(target=_quit, args=(driver,), name="quit", daemon=True)
                quitter.start()
                quitter.join(QUIT_PATIENCE)
                if quitter.is_alive():
                    # chromedriver is still busy with the command we abandoned (a page that
                    # never loads, after a signal): let Chrome shut down on its own, which
                    # also saves its cookies, and the pending command and quit() then end.
                    main = [p.pid for p in _profile_processes(self.profile) if _is_browser(p)]
                    _signal_all(main, signal.SIGTERM)
                    quitter.join(QUIT_GRACE - QUIT_PATIENCE)
            self._kill_tree()
            left = _wait_gone(self.profile, 3.0)
            self._cancel.set()
            self.log(
                f"browser: closed in {time.monotonic() - began:.2f} s"
                + (f"; still running: {[p.pid for p in left]}" if left else "")
            )
        finally:
            self._signals.__exit__()

    # -- pages --

    def get(self, url: str) -> None:
        from selenium.common.exceptions import TimeoutException

        assert self.driver is not None
        self.driver.set_page_load_timeout(max(0.5, self.remaining()))
        try:
            self.driver.get(url)
        except TimeoutException:
            raise ScrapeFailed(
                f"page timeout: {_origin_path(url)} did not load within {self.elapsed():.0f} s",
                "the site may be down or slow; raise --timeout if it is only slow",
            ) from None

    def state(self) -> _PageState:
        assert self.driver is not None
        raw = self.driver.execute_script(STATE_JS)
        return _PageState.from_js(raw)

    def wait(self, predicate: Callable[[WebDriver], Any], seconds: float | None = None) -> Any:
        """An explicit wait on the page's own content; None when time runs out."""
        from selenium.common.exceptions import (
            JavascriptException,
            StaleElementReferenceException,
            TimeoutException,
        )
        from selenium.webdriver.support.ui import WebDriverWait

        assert self.driver is not None
        seconds = self.remaining() if seconds is None else min(seconds, self.remaining())
        # A script can hit a document that is being replaced during a redirect: try again.
        waiter = WebDriverWait(
            self.driver,
            seconds,
            poll_frequency=POLL,
            ignored_exceptions=(JavascriptException, StaleElementReferenceException),
        )
        try:
            return waiter.until(predicate)
        except TimeoutException:
            return None


def _quit(driver: WebDriver) -> None:
    with contextlib.suppress(Exception):
        driver.quit()


def _browser_failure(exc: Exception, *, starting: bool) -> ScrapeFailed | None:
    """A browser-side exception as the user's error; None for our own bugs (they propagate)."""
    from selenium.common.exceptions import WebDriverException
    from urllib3.exceptions import HTTPError

    if isinstance(exc, WebDriverException):
        detail = _first_line(exc.msg or type(exc).__name__)
    elif isinstance(exc, HTTPError | OSError):
        detail = f"lost the connection to chromedriver ({_first_line(str(exc))})"
    else:
        return None
    if starting:
        return ScrapeFailed(
            f"the browser did not start: {detail}",
            "run `consolescrape doctor`; Chrome and chromedriver must have the same major version",
        )
    network = re.search(r"net::ERR_[A-Z_]+", detail)
    if network:
        # DNS failure, offline laptop, refused connection: the page never loaded.
        return ScrapeFailed(
            f"cannot reach the usage page: {network.group(0)}",
            "check the network connection (and CONSOLESCRAPE_USAGE_URL); the previous data is "
            "kept and the next run tries again",
        )
    return ScrapeFailed(
        f"the browser failed: {detail}",
        "run again with --verbose; `consolescrape doctor` checks the browser set-up",
    )


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]


def _origin_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _chrome_flags(profile: Path, *, headed: bool) -> list[str]:
    flags = [
        f"--user-data-dir={profile}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--mute-audio",
        "--lang=en-US",
        "--disable-blink-features=AutomationControlled",
        "--window-size=1280,1000",
        # Two renderers we never use: the omnibox's WebUI popup and a spare kept ready for the
        # next navigation. Measured: -200 MiB (-21 %) of browser-tree memory, same wall time.
        "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup,WebUIOmniboxFullPopup,"
        "SpareRendererForSitePerProcess",
    ]
    if not headed:
        flags.append("--headless=new")
    if sys.platform.startswith("linux"):
        # The cookie key must not depend on a desktop keyring: cron has no D-Bus session, and
        # cookies saved at a headed login under the keyring would be unreadable (= logged out).
        flags.append("--password-store=basic")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")  # as root Chrome refuses to start with its sandbox
    return flags


# --- reading pages -------------------------------------------------------------------------------

STATE_JS = """
const body = document.body;
return {url: location.href, title: document.title || "",
        text: body ? body.innerText : "", ready: document.readyState};
"""

#: The usage content: from the usage heading to the end of the panel that holds it — the dialog,
#: else <main>, else the body — across sibling sections (the session and the weekly block may
#: each be a container of its own), less any navigation or sidebar inside it. Also the page's
#: state (url, title, readiness, language), so one script per poll says everything.
CONTENT_JS = """
const HEADINGS = ["plan usage limits", "your usage limits"];
const BARS = '[role="meter"], [role="progressbar"]';
const NAV = 'nav, aside, [role="navigation"], [role="complementary"]';
const PANEL = 'dialog, [role="dialog"], main, [role="main"]';
const norm = (s) => (s || "").replace(/\\s+/g, " ").trim().toLowerCase();
const isHeading = (s) => HEADINGS.some((h) => s.startsWith(h) && s.length <= h.length + 30);
const body = document.body;
const page = {url: location.href, title: document.title || "", ready: document.readyState,
              lang: document.documentElement.lang || ""};
if (!body) return {...page, text: "", meters: [], scope: "none"};
let head = null;
for (const el of document.querySelectorAll('h1, h2, h3, h4, [role="heading"]')) {
  if (isHeading(norm(el.textContent)) && !el.closest(NAV)) { head = el; break; }
}
if (!head) {
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (isHeading(norm(n.textContent)) && !n.parentElement.closest(NAV)) {
      head = n.parentElement; break;
    }
  }
}
const anchor = head || body;
const box = anchor.closest('dialog, [role="dialog"]') || anchor.closest('main, [role="main"]')
  || (head ? null : document.querySelector(PANEL)) || body;
let text = box.innerText;
for (const nav of box.querySelectorAll(NAV)) {
  if (head && nav.contains(head)) continue;
  const part = nav.innerText.trim();
  if (part) text = text.replace(part, "\\n");
}
const meters = [];
for (const bar of box.querySelectorAll(BARS)) {
  if (bar.closest(NAV)) continue;
  if (head && !(head.compareDocumentPosition(bar) & Node.DOCUMENT_POSITION_FOLLOWING)) continue;
  const value = parseFloat(bar.getAttribute("aria-valuenow"));
  meters.push(Number.isFinite(value) ? value : null);
}
return {...page, text: text, meters: meters,
        scope: box.tagName.toLowerCase() + (head ? "" : " (no heading)")};
"""

#: GET a same-origin path with the page's own cookies; {status, text} (status 0: no answer).
FETCH_JS = """
const [path, ms, done] = arguments;
const abort = new AbortController();
const timer = setTimeout(() => abort.abort(), ms);
fetch(path, {credentials: "include", headers: {"Accept": "application/json"}, signal: abort.signal})
  .then(async (r) => done({status: r.status, text: await r.text(), cookie: document.cookie}))
  .catch((e) => done({status: 0, text: String(e), cookie: document.cookie}))
  .finally(() => clearTimeout(timer));
"""


@dataclass(frozen=True)
class _PageState:
    url: str
    title: str
    text: str
    ready: str
    lang: str = ""

    @classmethod
    def from_js(cls, raw: object) -> _PageState:
        doc = raw if isinstance(raw, dict) else {}
        return cls(
            str(doc.get("url") or ""),
            str(doc.get("title") or ""),
            str(doc.get("text") or ""),
            str(doc.get("ready") or ""),
            str(doc.get("lang") or ""),
        )

    @property
    def kind(self) -> PageKind:
        return extract.classify_page(self.url, self.title, self.text)


def _off_route(state: _PageState, target: str) -> bool:
    """Landed elsewhere on the site (e.g. /new without '#settings/usage'), not on the usage page."""
    here, there = urlsplit(state.url), urlsplit(target)
    return (
        here.netloc == there.netloc
        and here.path.rstrip("/") != there.path.rstrip("/")
        and "settings/usage" not in here.fragment
    )


def _on_site(state: _PageState, target: str) -> bool:
    """A page of the site itself has loaded (not about:blank, an error page or another host)."""
    return state.ready in ("interactive", "complete") and (
        urlsplit(state.url).netloc == urlsplit(target).netloc
    )


#: Where Chrome puts a page it could not load at all (connection refused, DNS failure).
NETWORK_ERROR_URL = "chrome-error://"
#: Where the site sends an account without a paid plan instead of the usage page.
FREE_PLAN_PATHS = ("/upgrade",)
FREE_PLAN_ADVICE = (
    "the usage page exists only for paid plans (Pro, Max, Team, Enterprise); if this account has "
    "one, log in with it: `consolescrape login`"
)
LANGUAGE_ADVICE = (
    "consolescrape reads the English interface: set claude.ai → Settings → General → Language "
    "to English (the account setting overrides the browser's language)"
)


def _stop_for(state: _PageState, browser: _Browser) -> None:
    """Raise the error a page means when it is not one to read: offline, login, bot check, free."""
    if state.url.startswith(NETWORK_ERROR_URL):
        # Offline laptop, DNS failure, site down: no point waiting for the deadline.
        raise ScrapeFailed(
            f"cannot reach the usage page {_origin_path(browser.target)}: the browser shows a "
            "network error",
            "check the network connection (and CONSOLESCRAPE_USAGE_URL); the previous data is "
            "kept and the next run tries again",
        )
    path = urlsplit(state.url).path.rstrip("/")
    if urlsplit(state.url).netloc == urlsplit(browser.target).netloc and path.startswith(
        FREE_PLAN_PATHS
    ):
        raise NoPlanLimits(
            "this account has no plan usage limits (free plan): the site sends it to "
            f"{_origin_path(state.url)} instead of the usage page",
            FREE_PLAN_ADVICE,
        )
    kind = state.kind
    if kind is PageKind.LOGIN:
        raise LoggedOut(
            "not logged in: the usage page asks for a login (the session expired or was never "
            "stored)",
            LOGIN_ADVICE,
        )
    if kind is PageKind.BOT_CHECK:
        raise ScrapeFailed("bot check: the site asks to verify you are human", BOT_ADVICE)


def _page_timeout(browser: _Browser) -> ScrapeFailed:
    last = browser.state()
    return ScrapeFailed(
        f"page timeout: the usage page did not show within {browser.elapsed():.0f} s "
        f"(at {_origin_path(last.url)}, titled {last.title[:60]!r})",
        f"check CONSOLESCRAPE_USAGE_URL; debug files are in {browser.settings.debug_dir}",
    )


def _land(browser: _Browser, url: str) -> _PageState:
    """Load the usage URL and wait until a page of the site has loaded (it may still render).

    Returns once the page is the usage page, or a logged-in page of the site whose content may
    still come; raises for a login page, a bot check, a network error or the free-plan page.
    """
    browser.log(f"page: opening {_origin_path(url)}")
    browser.get(url)
    began = time.monotonic()

    def landed(driver: WebDriver) -> _PageState | None:
        state = browser.state()
        if state.kind is not PageKind.UNKNOWN or state.url.startswith(NETWORK_ERROR_URL):
            return state
        return state if _on_site(state, url) else None

    state: _PageState | None = browser.wait(landed)
    if state is None:
        raise _page_timeout(browser)
    _stop_for(state, browser)
    browser.log(f"page: {state.kind.value} page after {time.monotonic() - began:.2f} s")
    return state


def _open_usage(browser: _Browser, url: str) -> _PageState:
    """Load the usage URL and wait until the page shows the usage content (or says why not).

    If the site lands elsewhere (the usage page may live at /new#settings/usage, a settings
    panel over the chat page) and stays there, try that route once.
    """
    state = _land(browser, url)
    reroute = _Reroute(browser, url)

    def named(driver: WebDriver) -> _PageState | None:
        state = browser.state()
        _stop_for(state, browser)
        if state.kind is PageKind.USAGE:
            return state
        reroute.check(state)
        return None

    if state.kind is not PageKind.USAGE:
        state = browser.wait(named)
        if state is None:
            raise _page_timeout(browser)
    return state


class _Reroute:
    """Off the usage route for a while (the chat page, the hash lost): try the panel route once."""

    def __init__(self, browser: _Browser, target: str) -> None:
        self.browser = browser
        self.target = target
        self.landed: dict[str, float] = {}
        self.done = False

    def check(self, state: _PageState) -> None:
        since = self.landed.setdefault(state.url, time.monotonic())
        if (
            not self.done
            and _off_route(state, self.target)
            and state.ready == "complete"
            and time.monotonic() - since >= OFF_ROUTE_GRACE
        ):
            route = urljoin(self.target, "/new#settings/usage")
            self.browser.log(f"page: landed on {_origin_path(state.url)}; trying {route}")
            self.done = True
            self.browser.get(route)


def _fetch_json(browser: _Browser, path: str) -> tuple[object, str]:
    """GET `path` from inside the page; (parsed JSON, document.cookie). ValueError on failure."""
    assert browser.driver is not None
    seconds = min(API_TIMEOUT, browser.remaining())
    if seconds <= 0.2:
        raise ValueError("no time left")
    browser.driver.set_script_timeout(seconds + 1)
    raw = browser.driver.execute_async_script(FETCH_JS, path, int(seconds * 1000))
    doc = raw if isinstance(raw, dict) else {}
    status, text = doc.get("status"), str(doc.get("text") or "")
    if status != 200:
        raise ValueError(f"{path} answered {status or 'nothing'}: {_excerpt(text)}")
    try:
        return json.loads(text), str(doc.get("cookie") or "")
    except ValueError:
        raise ValueError(f"{path} answered something that is not JSON: {_excerpt(text)}") from None


def _excerpt(text: str) -> str:
    """A short, printable excerpt of an answer (it may be an HTML error page)."""
    printable = "".join(c if c.isprintable() else " " for c in text[:200])
    return repr(re.sub(r"\s+", " ", printable).strip()[:80])


def _cookie_value(cookies: str, name: str) -> str | None:
    for part in cookies.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _read_api(browser: _Browser, *, tz: tzinfo) -> extract.Reading | None:
    """What the site's JSON endpoint says, as the page itself loads it; None when it fails."""
    began = time.monotonic()
    try:
        orgs, cookies = _fetch_json(browser, "/api/organizations")
        org = extract.pick_organization(orgs, _cookie_value(cookies, "lastActiveOrg"))
        if org is None:
            raise ValueError("no organization with chat among /api/organizations")
        usage, _ = _fetch_json(browser, f"/api/organizations/{quote(org, safe='')}/usage")
        reading = extract.read_api(usage, now=datetime.now(UTC), tz=tz)
    except _api_errors() as exc:
        browser.log(f"api: {_first_line(str(exc))}; the page text has to carry the run")
        return None
    found = ", ".join(reading.limits) or "no limit"
    browser.log(f"api: {found} in {time.monotonic() - began:.2f} s")
    for note in reading.notes:
        browser.log(f"api: skipped {note}")
    for key, reason in reading.errors.items():
        browser.log(f"api: {key}: {reason}")
    return reading


def _api_errors() -> tuple[type[Exception], ...]:
    """What makes the endpoint path give up: a bad answer, a script error, a script timeout."""
    from selenium.common.exceptions import JavascriptException, TimeoutException

    return (ValueError, JavascriptException, TimeoutException)


@dataclass
class _Progress:
    """What the page loop has seen so far."""

    began: float
    best: Snapshot | None = None
    problem: Exception | None = None
    page_spend: bool = False
    last_seen: object = None
    unchanged_since: float = 0.0
    state: _PageState | None = None


def _read_usage(browser: _Browser, *, tz: tzinfo, api: extract.Reading | None) -> Snapshot:
    """Merge the endpoint's limits with the page text's, limit by limit; the endpoint wins.

    The page is waited for only while it can still add a limit: done as soon as the merge has
    every expected section; else once the page's content stops changing for SETTLE seconds
    (SETTLE_EMPTY while the page shows no limit), or API_PATIENCE after the endpoint answered.
    """
    model_row = browser.settings.model_row
    readings = [api] if api is not None and (api.limits or api.spend) else []
    if readings:
        with contextlib.suppress(extract.NoUsage):
            from_api = extract.merge(readings, now=datetime.now(UTC), model_row=model_row)
            if not from_api.is_partial:
                # Everything the server needs came from the endpoint: one look at the page for
                # any further row, without waiting for it to render.
                return _merge_once(browser, readings, from_api, tz=tz)
    progress = _Progress(began=time.monotonic())
    progress.unchanged_since = progress.began
    reroute = _Reroute(browser, browser.target)

    def complete(driver: WebDriver) -> bool:
        raw = driver.execute_script(CONTENT_JS)
        doc = raw if isinstance(raw, dict) else {}
        state = progress.state = _PageState.from_js(doc)
        if not (api and api.limits):
            _stop_for(state, browser)  # the endpoint's data proves the session is good
        reroute.check(state)
        meters = [m if isinstance(m, int | float) else None for m in doc.get("meters") or []]
        page = _page_reading(state.text, meters, tz=tz, progress=progress)
        try:
            progress.best = extract.merge(
                [*readings, *([page] if page else [])], now=datetime.now(UTC), model_row=model_row
            )
        except extract.NoUsage as exc:
            progress.best, progress.problem = None, exc
            progress.page_spend = page is not None and page.spend is not None
            if progress.page_spend:
                return True  # the page shows a spend cap and no limit: nothing more will come
        if progress.best is not None and not progress.best.is_partial:
            return True
        return _settled(progress, state, page, readings)

    browser.wait(complete)
    if progress.best is None:
        raise _no_usage(browser, progress)
    return progress.best


def _page_reading(
    text: str, meters: list[float | None], *, tz: tzinfo, progress: _Progress
) -> extract.Reading | None:
    try:
        return extract.read_page(text, meters, now=datetime.now(UTC), tz=tz)
    except extract.NoUsage as exc:
        progress.problem = exc
        return None


def _settled(
    progress: _Progress,
    state: _PageState,
    page: extract.Reading | None,
    readings: list[extract.Reading],
) -> bool:
    now = time.monotonic()
    if readings and now - progress.began >= API_PATIENCE:
        return True
    # What the page shows, not its raw text: a ticking countdown or "Last updated" must not keep
    # a page from ever settling, while a row that renders late still counts as a change.
    seen = (
        _shown(progress.best) if progress.best else None,
        re.sub(r"\d+", "#", state.text),
    )
    if seen != progress.last_seen:
        progress.last_seen, progress.unchanged_since = seen, now
        return False
    settle = SETTLE if page is not None and page.limits else SETTLE_EMPTY
    return state.ready == "complete" and now - progress.unchanged_since >= settle


def _merge_once(
    browser: _Browser, readings: list[extract.Reading], from_api: Snapshot, *, tz: tzinfo
) -> Snapshot:
    from selenium.common.exceptions import WebDriverException

    assert browser.driver is not None
    try:
        doc = browser.driver.execute_script(CONTENT_JS)
        doc = doc if isinstance(doc, dict) else {}
        meters = [m if isinstance(m, int | float) else None for m in doc.get("meters") or []]
        page = extract.read_page(str(doc.get("text") or ""), meters, now=datetime.now(UTC), tz=tz)
    except (extract.NoUsage, WebDriverException):
        return from_api
    model_row = browser.settings.model_row
    return extract.merge([*readings, page], now=datetime.now(UTC), model_row=model_row)


def _no_usage(browser: _Browser, progress: _Progress) -> ScrapeFailed:
    """Why nothing could be read: a spend-only plan, another language, or an unknown page."""
    problem = progress.problem
    if isinstance(problem, extract.NoPlanLimits):
        return NoPlanLimits(
            str(problem),
            "consolescrape reads plan usage limits (session, weekly); this plan has none",
            spend=problem.spend.to_json(),
        )
    state = progress.state
    if state is not None and _foreign(state):
        return ScrapeFailed(
            "the usage page is not in English"
            + (f" (lang={state.lang!r})" if state.lang else "")
            + ": consolescrape cannot read its labels",
            LANGUAGE_ADVICE,
        )
    if state is not None and state.kind is PageKind.UNKNOWN and not _on_usage_route(state, browser):
        return _page_timeout(browser)
    reason = _first_line(str(problem or "nothing readable"))
    return ScrapeFailed(
        f"no usage section: the page shows no usage limit we can read ({reason})",
        f"the page may have changed; see {browser.settings.debug_dir}",
    )


_ENGLISH_WORDS = ("usage", "limit", "session", "weekly", "resets", "used")


def _foreign(state: _PageState) -> bool:
    """The page's language is not English: by its lang attribute, or percentages without words."""
    lang = state.lang.strip().lower()
    if lang and not lang.startswith("en"):
        return True
    text = state.text.casefold()
    return bool(re.search(r"\d\s*%", text)) and not any(w in text for w in _ENGLISH_WORDS)


def _on_usage_route(state: _PageState, browser: _Browser) -> bool:
    return not _off_route(state, browser.target)


def _shown(snapshot: Snapshot) -> list[tuple[str, str, float]]:
    """The limits as the page words them (resets_at moves with the clock for a countdown)."""
    rows = [("session", snapshot.session)] if snapshot.session else []
    rows += sorted(snapshot.weekly.items())
    return [(key, limit.resets_in, limit.percentage_used) for key, limit in rows if limit]


def _local_zone() -> tzinfo:
    """The machine's zone with its DST rules; a fixed offset would misplace resets across a DST
    change ("Resets Sun 7:00 AM" read on a Friday before the clocks move)."""
    from zoneinfo import ZoneInfo

    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        target = os.path.realpath("/etc/localtime")
        name = target.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in target else ""
    if name:
        with contextlib.suppress(Exception):
            return ZoneInfo(name)
    return datetime.now().astimezone().tzinfo or UTC


def _log_origins(snapshot: Snapshot, log: Log) -> None:
    """Where each limit came from, for --verbose: 'currentSession ← five_hour, …'."""
    parts = [f"{key} ← {origin}" for key, origin in snapshot.origins.items()]
    log(f"limits ({snapshot.source}): {', '.join(parts)}")


# --- the public functions ------------------------------------------------------------------------


def scrape(
    settings: Settings,
    *,
    url: str | None = None,
    headed: bool = False,
    log: Log = _quiet,
) -> Snapshot:
    """Open the usage page with the profile and read the limits: the JSON endpoint first, asked
    as soon as a logged-in page of the site has loaded, then the page text for what it lacks.

    Raises LoggedOut (the page asks for a login) or ScrapeFailed (no browser, timeout, bot
    check, no usage section, no plan limits); debug files of the page are saved on failure.
    """
    tz = _local_zone()
    with _Browser(
        settings, headed=headed, seconds=settings.timeout, log=log, what="the browser phase"
    ) as browser:
        browser.target = url or settings.usage_url
        _land(browser, browser.target)
        api = _read_api(browser, tz=tz)
        snapshot = _read_usage(browser, tz=tz, api=api)
        _log_origins(snapshot, log)
        log(f"browser: usage read {browser.elapsed():.2f} s after start ({snapshot.source})")
        return snapshot


def login_interactive(
    settings: Settings,
    *,
    url: str | None = None,
    timeout: float = 300,
    log: Log = _quiet,
) -> None:
    """Show the usage page in a visible browser and wait until the user has logged in."""
    from selenium.common.exceptions import WebDriverException

    target = url or settings.usage_url
    _check_display(HEADLESS_LOGIN_ADVICE)
    # The user's time plus a launch; the wait for the login itself is `timeout`.
    with _Browser(
        settings, headed=True, seconds=timeout + 30, log=log, what="the login"
    ) as browser:
        browser.target = target
        browser.get(target)
        site = urlsplit(target).netloc
        log(f"log in to {site} in the browser window; waiting up to {timeout:g} s")
        revisits = [time.monotonic()]

        def logged_in(driver: WebDriver) -> bool:
            try:
                state = browser.state()
            except WebDriverException as exc:
                words = str(exc).lower()
                if any(w in words for w in _WINDOW_GONE):
                    raise LoggedOut(
                        "the browser window was closed before the usage page showed",
                        "run `consolescrape login` again and log in before closing it",
                    ) from None
                return False
            if state.kind is PageKind.USAGE:
                return True
            # After logging in the site may land on its chat page: go back to the usage page,
            # then (as a scrape does) to its settings-panel route, and so on in turn.
            now = time.monotonic()
            if (
                state.kind is PageKind.UNKNOWN
                and state.ready == "complete"
                and _off_route(state, target)
                and now - revisits[-1] > OFF_ROUTE_GRACE
            ):
                first_time = len(revisits) % 2 == 1
                driver.get(target if first_time else urljoin(target, "/new#settings/usage"))
                revisits.append(time.monotonic())
            return False

        if not browser.wait(logged_in, timeout):
            raise LoggedOut(
                f"not logged in: the usage page did not show within {timeout:g} s",
                "run `consolescrape login` again (or use --session-key-stdin)",
            )
        log("login: the usage page shows; closing the browser")


#: chromedriver's words when the user has closed the login window.
_WINDOW_GONE = ("no such window", "disconnected", "not reachable", "invalid session id")

SESSION_COOKIE = "sessionKey"
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+")


def login_with_session_key(
    settings: Settings, session_key: str, *, url: str | None = None, log: Log = _quiet
) -> None:
    """Store a sessionKey cookie in the profile, then check that the usage page shows.

    The value is never logged or put in an error message.
    """
    from selenium.common.exceptions import WebDriverException

    target = url or settings.usage_url
    value = session_key.strip()
    if not _COOKIE_VALUE.fullmatch(value):
        raise UsageError(
            "the session key is empty or has characters a cookie cannot hold "
            "(spaces, quotes, commas, semicolons, backslashes)",
            "paste only the value of the sessionKey cookie",
        )
    parts = urlsplit(target)
    with _Browser(
        settings, headed=False, seconds=settings.timeout, log=log, what="the login"
    ) as browser:
        assert browser.driver is not None
        browser.target = target
        cookie = {
            "name": SESSION_COOKIE,
            "value": value,
            "url": f"{parts.scheme}://{parts.netloc}/",
            "path": "/",
            "secure": parts.scheme == "https",
            "httpOnly": True,
            "sameSite": "Lax",
            "expires": time.time() + 365 * 24 * 3600,
        }
        # Through CDP: no need to load a page of the site first just to be allowed to set it.
        # Selenium logs command bodies at DEBUG: keep the value out of any log for this call.
        wire = logging.getLogger("selenium.webdriver.remote.remote_connection")
        level = wire.level
        wire.setLevel(max(level, logging.INFO))
        try:
            done = browser.driver.execute_cdp_cmd("Network.setCookie", cookie)
        except WebDriverException as exc:
            detail = _first_line(exc.msg or "").replace(value, "********")
            raise ScrapeFailed(f"could not store the session cookie: {detail}") from None
        finally:
            wire.setLevel(level)
        if isinstance(done, dict) and done.get("success") is False:
            raise ScrapeFailed(f"the browser refused the session cookie for {parts.netloc}")
        log(f"login: stored the {SESSION_COOKIE} cookie for {parts.netloc}")
        try:
            _open_usage(browser, target)
        except LoggedOut:
            raise LoggedOut(
                "the session key was not accepted: the usage page still asks for a login",
                "copy the sessionKey cookie again from a browser that is logged in to claude.ai",
            ) from None
        log("login: the usage page shows")
