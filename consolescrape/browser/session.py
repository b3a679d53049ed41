"""One Chrome session on the profile: launched, watched by one deadline, always torn down.

- one deadline for the whole phase: our own waits end a little before it (to leave time for
  debug files and quit), and a watchdog thread kills chromedriver's process group and every
  process on our profile at the deadline itself, so even a Selenium call that blocks fails;
- closing always quits, bounded, then kills whatever is left; SIGTERM/SIGINT/SIGHUP raise
  SystemExit while a session is open so clean-up runs (Python skips it on a default SIGTERM).

Selenium is imported inside the methods that use it, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from selenium.common.exceptions import (
    JavascriptException,
    StaleElementReferenceException,
    TimeoutException,
    UnexpectedAlertPresentException,
    WebDriverException,
)
from selenium.webdriver import Chrome, ChromeOptions
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from urllib3.exceptions import HTTPError

from consolescrape import signals, store
from consolescrape.browser import cache, shell
from consolescrape.browser.chrome import (
    check_display,
    child_env,
    chrome_flags,
    find_browser,
    user_agent,
)
from consolescrape.browser.processes import (
    cleanup_profile,
    is_browser,
    profile_processes,
    signal_all,
    wait_gone,
)
from consolescrape.children import Record
from consolescrape.config import Settings
from consolescrape.errors import ConsolescrapeError, ScrapeFailed, SiteTrouble

logger = logging.getLogger(__name__)

#: Polling interval of the explicit waits: content that appears is seen within this.
POLL = 0.1
#: A normal quit takes ~0.15 s; one still running after this waits behind a blocked command.
QUIT_PATIENCE = 1.0
#: Bound on driver.quit(); past it the process group is killed.
QUIT_GRACE = 5.0
#: debug/page.html keeps at most this much of the failed page.
DEBUG_HTML_BYTES = 2 * 1024 * 1024


class Browser:
    """One Chrome session on the profile: launched, watched by the deadline, always torn down."""

    def __init__(
        self,
        settings: Settings,
        *,
        headed: bool,
        seconds: float,
        what: str,
        record: Record | None = None,
        lean: bool = True,
    ) -> None:
        self.settings = settings
        #: the headless shell may stand in for Chrome (a run); not where a cookie must last
        self.lean = lean
        #: where chromedriver is recorded while it runs, so a run killed by SIGKILL is cleaned
        #: up by the next one even before Chrome (which names the profile) has started
        self.record = record
        self.headed = headed
        self.what = what
        self.seconds = seconds
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        # Our own waits stop this much earlier: debug files and quit need a moment.
        self.soft_deadline = self.deadline - min(2.0, seconds * 0.2)
        self.profile = settings.profile
        self.service: Service | None = None
        self.driver: WebDriver | None = None
        #: The browser binary that started (Chrome, or the headless shell).
        self.binary: Path | None = None
        self.expired = False
        self._cancel = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="deadline", daemon=True)
        # What closing undoes, in reverse order: the profile lock, the signal handlers.
        self._undo = contextlib.ExitStack()
        self._tree_lock = threading.Lock()
        self._owns_profile = False

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
        logger.debug(f"browser: deadline of {self.seconds:g} s reached; killing the browser")
        self._kill_tree()

    def _kill_tree(self) -> None:
        """SIGKILL chromedriver's process group and anything else on our profile."""
        with self._tree_lock:
            process = getattr(self.service, "process", None)
            # Only while chromedriver is unreaped is its pid (= its group id) surely still ours.
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
            # Processes on the profile are ours only once we hold its lock: before that they
            # may be another home's live run.
            if self._owns_profile:
                signal_all([p.pid for p in profile_processes(self.profile)], signal.SIGKILL)

    # -- life cycle --

    def __enter__(self) -> Browser:
        self._undo.enter_context(signals.handled())
        try:
            signals.raise_held()
            self._watchdog.start()
            self._launch()
        except BaseException as exc:
            self._close()
            self._raise_as_ours(exc, starting=True)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if (
            isinstance(exc, Exception)  # not a signal (Stopped)
            # A passing outage is not a page a person needs to look at.
            and not isinstance(exc, SiteTrouble)
            and self.driver is not None
            and not self.expired
        ):
            self._save_debug()
        self._close()
        if exc is not None:
            self._raise_as_ours(exc, starting=False)

    def _raise_as_ours(self, exc: BaseException, *, starting: bool) -> None:
        """Raise what a browser-side exception means to the user (a timeout when the watchdog
        killed the browser); return for our own errors and bugs, which propagate as they are."""
        if not isinstance(exc, Exception) or isinstance(exc, ConsolescrapeError):
            return
        if self.expired:
            raise self._timeout() from None
        failure = browser_failure(exc, starting=starting)
        if failure is not None:
            raise failure from exc

    def _timeout(self) -> ScrapeFailed:
        return ScrapeFailed(
            f"timed out: {self.what} took longer than {self.seconds:g} s",
            "raise --timeout / CONSOLESCRAPE_TIMEOUT if the site is slow; debug files are in "
            f"{self.settings.debug_dir}",
        )

    def _launch(self) -> None:
        if self.headed:
            check_display("run without --headed (or set DISPLAY)")
        chrome, driver_path = find_browser(self.settings)
        store.private_dir(self.profile)
        self._undo.enter_context(_profile_lock(self.profile))
        self._owns_profile = True
        cleanup_profile(self.profile)
        cache.trim(self.profile)  # no Chrome of ours runs on it now: its caches may go
        light = shell.headless_shell(self.settings, headed=self.headed) if self.lean else None
        if light is not None:
            try:
                self._start(light, driver_path)
                return
            except Exception as exc:
                if browser_failure(exc, starting=True) is None:
                    raise
                logger.debug(
                    f"browser: {light.name} did not start ({first_line(str(exc))}); "
                    f"using {chrome.name}"
                )
                self._kill_tree()
                self.driver = self.service = None
                cleanup_profile(self.profile)
        self._start(chrome, driver_path)

    def _start(self, chrome: Path, driver_path: Path) -> None:
        options = ChromeOptions()
        options.binary_location = str(chrome)
        for flag in chrome_flags(self.profile, headed=self.headed):
            options.add_argument(flag)
        agent = user_agent(chrome, self.profile)
        if agent:
            options.add_argument(f"--user-agent={agent}")
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
        # An alert() on the page would fail every later command ("unexpected alert open"):
        # dismiss it and go on reading.
        options.unhandled_prompt_behavior = "dismiss"
        budget_ms = int(max(1.0, self.remaining()) * 1000)
        options.timeouts = {"pageLoad": budget_ms, "script": min(budget_ms, 30_000)}
        self.service = _recorded_service(
            Service,
            self.record,
            executable_path=str(driver_path),
            env=self.record.environment(child_env()) if self.record else child_env(),
            # Its own process group: the whole tree can be killed if quit() stalls.
            popen_kw={"start_new_session": True},
        )
        shell.adapt(options, chrome)
        self.driver = Chrome(options=options, service=self.service)
        shell.started(self.driver, chrome, agent)
        self.binary = chrome
        logger.debug(f"browser: {chrome.name} launched in {self.elapsed():.2f} s")

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
            # Bounded: a page can be any size, and debug/ must not grow the home without end
            # (the screenshot is bounded by the window size).
            store.write_private(directory / "page.html", html.encode()[:DEBUG_HTML_BYTES])
            store.write_private(directory / "screenshot.png", png)
        except Exception as exc:  # debug files must not replace the real error (nor can they
            # swallow a signal: Stopped is no Exception)
            logger.debug(f"debug: could not save the page ({type(exc).__name__})")
            return
        logger.debug(f"debug: saved page.html and screenshot.png in {directory}")

    def _close(self) -> None:
        # A signal now waits until the browser is gone, then ends the command as usual.
        try:
            with signals.deferred(), self._undo:
                self._quit_and_kill()
        finally:
            # Whatever happened, the watchdog must not fire later (on another home's browser
            # on a shared profile), and the profile is no longer ours once its lock is gone.
            self._cancel.set()
            self._owns_profile = False

    def _quit_and_kill(self) -> None:
        began = time.monotonic()
        driver, self.driver = self.driver, None
        if driver is not None and not self.expired:
            quitter = threading.Thread(target=quit_driver, args=(driver,), name="quit", daemon=True)
            quitter.start()
            quitter.join(QUIT_PATIENCE)
            if quitter.is_alive():
                # chromedriver is still busy with the command we abandoned (a page that
                # never loads, after a signal): let Chrome shut down on its own, which
                # also saves its cookies, and the pending command and quit() then end.
                main = [p.pid for p in profile_processes(self.profile) if is_browser(p)]
                signal_all(main, signal.SIGTERM)
                quitter.join(QUIT_GRACE - QUIT_PATIENCE)
        self._kill_tree()
        process = getattr(self.service, "process", None)
        if self.record is not None and process is not None and process.poll() is not None:
            self.record.ended(process.pid)
        left = wait_gone(self.profile, 3.0) if self._owns_profile else []
        if self._owns_profile and not left:
            # The headless shell ignores --disk-cache-size: bound the caches after the run too.
            cache.trim(self.profile)
        self._cancel.set()
        logger.debug(
            f"browser: closed in {time.monotonic() - began:.2f} s"
            + (f"; still running: {[p.pid for p in left]}" if left else "")
        )

    # -- pages --

    def get(self, url: str) -> None:
        assert self.driver is not None
        self.driver.set_page_load_timeout(max(0.5, self.remaining()))
        try:
            self.driver.get(url)
        except TimeoutException:
            raise ScrapeFailed(
                f"page timeout: {origin_path(url)} did not load within {self.seconds:g} s",
                "the site may be down or slow; raise --timeout if it is only slow",
            ) from None

    def wait(self, predicate: Callable[[WebDriver], Any], seconds: float | None = None) -> Any:
        """An explicit wait on the page's own content; None when time runs out."""

        assert self.driver is not None
        seconds = self.remaining() if seconds is None else min(seconds, self.remaining())
        # A script can hit a document that is being replaced during a redirect, or an alert()
        # that opened while it ran (chromedriver dismisses it, but that command fails): try
        # again.
        waiter = WebDriverWait(
            self.driver,
            seconds,
            poll_frequency=POLL,
            ignored_exceptions=(
                JavascriptException,
                StaleElementReferenceException,
                UnexpectedAlertPresentException,
            ),
        )
        try:
            return waiter.until(predicate)
        except TimeoutException:
            return None


def _recorded_service(base: type[Service], record: Record | None, **kwargs: Any) -> Service:
    """Selenium's Service for chromedriver, recording its pid in `record` the moment it runs
    (Selenium checks the process right after starting it, before it waits for the port)."""
    if record is None:
        return base(**kwargs)
    kept = record

    class Recorded(base):  # type: ignore[valid-type,misc]
        def assert_process_still_running(self) -> None:
            if not getattr(self, "_recorded", False):
                self._recorded = True
                kept.started(self.process.pid, "chromedriver")
            super().assert_process_still_running()

    service: Service = Recorded(**kwargs)
    return service


#: Held by the run whose browser uses the profile: two homes may share one profile directory,
#: and the start-up clean-up must never kill the browser of a live run (or Chrome refuses a
#: profile in use anyway).
PROFILE_LOCK = "consolescrape.lock"


def _profile_lock(profile: Path) -> contextlib.AbstractContextManager[None]:
    return store.hold_lock(
        profile / PROFILE_LOCK,
        doing=f"is using the browser profile {profile}",
        advice="nothing to do if it is a scheduled run of another home; otherwise give each "
        "home its own CONSOLESCRAPE_PROFILE_DIR",
    )


#: What to do when the page could not be reached at all (offline, DNS, the site down).
NETWORK_ADVICE = (
    "check the network connection (and CONSOLESCRAPE_USAGE_URL); the previous data is kept and "
    "the next run tries again"
)


def quit_driver(driver: WebDriver) -> None:
    with contextlib.suppress(Exception):
        driver.quit()


def browser_failure(exc: Exception, *, starting: bool) -> ScrapeFailed | None:
    """A browser-side exception as the user's error; None for our own bugs (they propagate)."""

    if isinstance(exc, WebDriverException):
        detail = first_line(exc.msg or type(exc).__name__)
    elif isinstance(exc, HTTPError | OSError):
        detail = f"lost the connection to chromedriver ({first_line(str(exc))})"
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
        return ScrapeFailed(f"cannot reach the usage page: {network.group(0)}", NETWORK_ADVICE)
    return ScrapeFailed(
        f"the browser failed: {detail}",
        "run again with --verbose; `consolescrape doctor` checks the browser set-up",
    )


def first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]


def origin_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
