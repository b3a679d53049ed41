"""Logging the profile in: a visible window the user logs in with, or a sessionKey from stdin."""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.webdriver import WebDriver

from consolescrape.browser.chrome import HEADLESS_LOGIN_ADVICE, check_display
from consolescrape.browser.session import Browser, first_line
from consolescrape.browser.usage_page import OFF_ROUTE_GRACE, off_route, open_usage, page_state
from consolescrape.config import Settings
from consolescrape.errors import LOGIN_ADVICE, LoggedOut, ScrapeFailed, UsageError
from consolescrape.extract import PageKind

logger = logging.getLogger(__name__)


def login_interactive(
    settings: Settings,
    *,
    timeout: float = 300,
) -> None:
    """Show the usage page in a visible browser and wait until the user has logged in."""

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
                        LOGIN_ADVICE + "; log in before closing the window",
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
                LOGIN_ADVICE,
            )
        logger.debug("login: the usage page shows; closing the browser")


#: chromedriver's words when the user has closed the login window.
_WINDOW_GONE = ("no such window", "disconnected", "not reachable", "invalid session id")

SESSION_COOKIE = "sessionKey"
_COOKIE_VALUE = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+")


def login_with_session_key(settings: Settings, session_key: str) -> None:
    """Store a sessionKey cookie in the profile, then check that the usage page shows.

    A key the site does not accept leaves the profile's previous session in place. The value
    is never logged or put in an error message.
    """
    value = session_key.strip()
    if not _COOKIE_VALUE.fullmatch(value):
        raise UsageError(
            "the session key is empty or has characters a cookie cannot hold "
            "(spaces, quotes, commas, semicolons, backslashes)",
            "paste only the value of the sessionKey cookie",
        )
    target = settings.usage_url
    site = urlsplit(target)
    origin = f"{site.scheme}://{site.netloc}/"
    # Chrome itself, not the headless shell: the shell did not always write a fresh cookie to
    # the profile before it quit (about one login in seven was lost), and this one must last.
    with Browser(
        settings, headed=False, seconds=settings.timeout, what="the login", lean=False
    ) as browser:
        previous = _session_cookie(browser, origin)
        _set_cookie(
            browser,
            {
                "name": SESSION_COOKIE,
                "value": value,
                "url": origin,
                "path": "/",
                "secure": site.scheme == "https",
                "httpOnly": True,
                "sameSite": "Lax",
                "expires": time.time() + 365 * 24 * 3600,
            },
            secret=value,
        )
        logger.debug(f"login: stored the {SESSION_COOKIE} cookie for {site.netloc}")
        try:
            open_usage(browser, target)
        except LoggedOut:
            _restore(browser, origin, previous)
            raise LoggedOut(
                "the session key was not accepted: the usage page still asks for a login"
                + ("; the previous session is kept" if previous else ""),
                "copy the sessionKey cookie again from a browser that is logged in to claude.ai",
            ) from None
        logger.debug("login: the usage page shows")


def _session_cookie(browser: Browser, origin: str) -> dict[str, Any] | None:
    """The profile's current sessionKey cookie for the site, to put back if the new one fails."""
    done = _cdp(browser, "Network.getCookies", {"urls": [origin]})
    cookies = done.get("cookies") if isinstance(done, dict) else None
    for cookie in cookies if isinstance(cookies, list) else []:
        if isinstance(cookie, dict) and cookie.get("name") == SESSION_COOKIE:
            return cookie
    return None


def _restore(browser: Browser, origin: str, previous: dict[str, Any] | None) -> None:
    _cdp(browser, "Network.deleteCookies", {"name": SESSION_COOKIE, "url": origin})
    if previous is None:
        return
    keep = ("name", "value", "domain", "path", "secure", "httpOnly", "sameSite", "expires")
    cookie = {k: previous[k] for k in keep if k in previous}
    if cookie.get("expires", -1) < 0:
        cookie.pop("expires", None)  # a session cookie has none
    _set_cookie(browser, cookie, secret=str(previous.get("value", "")))
    logger.debug(f"login: put the previous {SESSION_COOKIE} cookie back")


def _set_cookie(browser: Browser, cookie: dict[str, Any], *, secret: str) -> None:
    done = _cdp(browser, "Network.setCookie", cookie, secret=secret)
    if isinstance(done, dict) and done.get("success") is False:
        raise ScrapeFailed(f"the browser refused the session cookie for {cookie.get('url')}")


def _cdp(browser: Browser, command: str, args: dict[str, Any], *, secret: str = "") -> Any:
    """A DevTools command (no page of the site needs to be loaded first), its log muted.

    Selenium logs command bodies and answers at DEBUG: cookie values stay out of every log.
    """

    assert browser.driver is not None
    wire = logging.getLogger("selenium.webdriver.remote.remote_connection")
    level = wire.level
    wire.setLevel(max(level, logging.INFO))
    try:
        return browser.driver.execute_cdp_cmd(command, args)
    except WebDriverException as exc:
        detail = first_line(exc.msg or "")
        if secret:
            detail = detail.replace(secret, "********")
        raise ScrapeFailed(f"could not update the session cookie: {detail}") from None
    finally:
        wire.setLevel(level)
