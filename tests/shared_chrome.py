"""One Chrome per test worker for the tests that only read a page.

A run's browser phase is a launch, the reading, and the tear-down. Most page tests are about
the reading: here it runs as `browser.scrape` runs it (the endpoint first, fonts blocked, the
page landed on, the endpoint from the page, the merge), on a Chrome launched once per xdist
worker the way a run launches it (`Browser._launch`: the headless shell, its flags and user
agent). What a launch and a tear-down do (deadlines, signals, debug files, processes left on
the profile) is tested where it happens: tests/test_browser.py, tests/test_run*.py.

Nothing carries over from one read to the next: before each, the browser is on about:blank with
no cookie, cache or site storage, no blocked URL and one window; then it holds only the session
cookie the stand-in accepts, as a logged-in profile does. A read that fails in a way the
package does not name (a Selenium error, a hung page), or a browser that does not answer the
reset, is replaced by a new launch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from consolescrape.browser import endpoint, lean, usage_page
from consolescrape.browser.login import SESSION_COOKIE
from consolescrape.browser.session import Browser
from consolescrape.config import Settings
from consolescrape.errors import ConsolescrapeError
from consolescrape.extract import local_zone
from consolescrape.model import Snapshot

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

#: The launched browser's own deadline: longer than any worker's share of the suite.
LIFETIME = 6 * 3600.0
#: Bound on each step of the reset between reads (about:blank, a CDP command: well under a
#: second on a busy machine); a browser slower than this is replaced.
RESET_SECONDS = 2.5


class SharedChrome:
    """A Chrome launched once, lent to one read at a time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._keeper: Browser | None = None
        self._origins: set[str] = set()
        self.launches = 0

    # -- life cycle --

    @property
    def driver(self) -> WebDriver:
        if self._keeper is None or self._keeper.driver is None:
            self._launch()
        assert self._keeper is not None and self._keeper.driver is not None
        return self._keeper.driver

    def _launch(self) -> None:
        self.close()
        settings = Settings(home=self.root / "home", profile_dir=self.root / "profile")
        keeper = Browser(settings, headed=False, seconds=LIFETIME, what="the shared browser")
        # The launch a run does, without what only a whole run needs: the watchdog's deadline
        # and the signal handlers (a worker must still stop on Ctrl-C).
        keeper._launch()
        self._keeper = keeper
        self._origins.clear()
        self.launches += 1

    def close(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper._close()  # quit, bounded; then everything on the profile is killed

    # -- reads --

    def lend(self, settings: Settings, session_key: str | None) -> Browser:
        """A Browser for `settings` on the shared Chrome, reset, with `session_key` stored as
        the site's session cookie (None: logged out). Its deadline starts now."""
        try:
            self._reset(settings.usage_url, session_key)
        except Exception:
            self._launch()  # hung or gone: a new one, reset the same way
            self._reset(settings.usage_url, session_key)
        assert self._keeper is not None
        browser = Browser(
            dataclasses.replace(settings, profile_dir=self._keeper.profile),
            headed=False,
            seconds=settings.timeout,
            what="the browser phase",
        )
        browser.driver, browser.service = self._keeper.driver, self._keeper.service
        return browser

    @contextlib.contextmanager
    def session(self, settings: Settings, session_key: str | None) -> Iterator[Browser]:
        """`lend`, and a new launch for the next read if this one ended in an error the package
        does not name (its own errors leave a browser that answered)."""
        browser = self.lend(settings, session_key)
        try:
            yield browser
        except ConsolescrapeError:
            raise
        except BaseException:
            self.close()
            raise

    def read(
        self, settings: Settings, session_key: str | None, *, tz: tzinfo | None = None
    ) -> Snapshot:
        """What `browser.scrape(settings)` reads, on the shared Chrome."""
        tz = local_zone() if tz is None else tz
        with self.session(settings, session_key) as browser:
            first = lean.endpoint_first(browser, tz=tz)
            if first.snapshot is not None:
                snapshot = first.snapshot
            else:
                lean.block_extras(browser)
                usage_page.land(browser, settings.usage_url)
                api = first.api if first.asked else endpoint.read_api(browser, tz=tz)
                snapshot = usage_page.read_usage(browser, tz=tz, api=api)
            usage_page.log_origins(snapshot)
            return snapshot

    def _reset(self, url: str, session_key: str | None) -> None:
        driver = self.driver
        driver.set_page_load_timeout(RESET_SECONDS)
        driver.set_script_timeout(RESET_SECONDS)
        handles = driver.window_handles
        for extra in handles[1:]:
            driver.switch_to.window(extra)
            driver.close()
        driver.switch_to.window(handles[0])
        driver.get("about:blank")
        site = urlsplit(url)
        origin = f"{site.scheme}://{site.netloc}"
        self._origins.add(origin)
        for seen in self._origins:
            _cdp(driver, "Storage.clearDataForOrigin", origin=seen, storageTypes="all")
        _cdp(driver, "Network.clearBrowserCookies")
        _cdp(driver, "Network.clearBrowserCache")
        # What block_extras set for the last read: a run starts without it.
        _cdp(driver, "Network.setBlockedURLs", urls=[])
        _cdp(driver, "Network.disable")
        if session_key is not None:
            _cdp(
                driver,
                "Network.setCookie",
                name=SESSION_COOKIE,
                value=session_key,
                url=origin + "/",
                path="/",
                secure=site.scheme == "https",
                httpOnly=True,
                sameSite="Lax",
                expires=time.time() + 3600,
            )


def _cdp(driver: WebDriver, command: str, **args: Any) -> Any:
    """A DevTools command, its body kept out of Selenium's debug log (it may hold the cookie)."""
    wire = logging.getLogger("selenium.webdriver.remote.remote_connection")
    level = wire.level
    wire.setLevel(max(level, logging.INFO))
    try:
        return driver.execute_cdp_cmd(command, args)
    finally:
        wire.setLevel(level)


@pytest.fixture(scope="session")
def shared_chrome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedChrome]:
    """The worker's one Chrome for tests that only read a page (launched on first use)."""
    chrome = SharedChrome(tmp_path_factory.mktemp("shared-chrome"))
    try:
        yield chrome
    finally:
        chrome.close()
