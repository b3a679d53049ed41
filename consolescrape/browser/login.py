"""Logging the profile in: a visible window the user logs in with, or a sessionKey from stdin."""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from consolescrape.browser.chrome import HEADLESS_LOGIN_ADVICE, check_display
from consolescrape.browser.session import Browser, first_line
from consolescrape.browser.usage_page import OFF_ROUTE_GRACE, off_route, open_usage, page_state
from consolescrape.config import Settings
from consolescrape.errors import LoggedOut, ScrapeFailed, UsageError
from consolescrape.extract import PageKind

if TYPE_CHECKING:
    from selenium.webdriver.chrome.webdriver import WebDriver

logger = logging.getLogger(__name__)


def login_interactive(
    settings: Settings,
    *,
    timeout: float = 300,
) -> None:
    """Show the usage page in a visible browser and wait until the user has logged in."""
    from selenium.common.exceptions import WebDriverException

    target = settings.usage_url
    check_display(HEADLESS_LOGIN_ADVICE)
    # The user's time plus a launch; the wait for the login itself is `timeout`.
    with Browser(settings, headed=True, seconds=timeout + 30, what="the login") as browser:
        browser.get(target)
        site = urlsplit(target).netloc
        logger.debug(f"log in to {site} in the browser window; waiting up to {timeout:g} s")
        revisits = [time.monotonic()]

        def logged_in(driver: WebDriver) -> bool:
            try:
                state = page_state(browser)
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
                and off_route(state, target)
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
        logger.debug("login: the usage page shows; closing the browser")


#: chromedriver's words when the user has closed the login window.
_WINDOW_GONE = ("no such window", "disconnected", "not reachable", "invalid session id")

SESSION_COOKIE = "sessionKey"
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+")


def login_with_session_key(settings: Settings, session_key: str) -> None:
    """Store a sessionKey cookie in the profile, then check that the usage page shows.

    The value is never logged or put in an error message.
    """
    from selenium.common.exceptions import WebDriverException

    target = settings.usage_url
    value = session_key.strip()
    if not _COOKIE_VALUE.fullmatch(value):
        raise UsageError(
            "the session key is empty or has characters a cookie cannot hold "
            "(spaces, quotes, commas, semicolons, backslashes)",
            "paste only the value of the sessionKey cookie",
        )
    parts = urlsplit(target)
    with Browser(settings, headed=False, seconds=settings.timeout, what="the login") as browser:
        assert browser.driver is not None
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
            detail = first_line(exc.msg or "").replace(value, "********")
            raise ScrapeFailed(f"could not store the session cookie: {detail}") from None
        finally:
            wire.setLevel(level)
        if isinstance(done, dict) and done.get("success") is False:
            raise ScrapeFailed(f"the browser refused the session cookie for {parts.netloc}")
        logger.debug(f"login: stored the {SESSION_COOKIE} cookie for {parts.netloc}")
        try:
            open_usage(browser, target)
        except LoggedOut:
            raise LoggedOut(
                "the session key was not accepted: the usage page still asks for a login",
                "copy the sessionKey cookie again from a browser that is logged in to claude.ai",
            ) from None
        logger.debug("login: the usage page shows")
