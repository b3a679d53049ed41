"""One reading of the limits in the browser: the endpoint first, else the usage page."""

from __future__ import annotations

import dataclasses
import logging
import time

from consolescrape import progress
from consolescrape.browser import lean, shell
from consolescrape.browser.endpoint import read_api
from consolescrape.browser.session import Browser
from consolescrape.browser.usage_page import land, log_origins, read_usage
from consolescrape.children import Record
from consolescrape.config import Settings
from consolescrape.errors import BotCheck
from consolescrape.extract import local_zone
from consolescrape.model import Snapshot

logger = logging.getLogger(__name__)


#: A retry with Chrome after the shell met a bot check needs at least this much of the budget.
RETRY_SECONDS = 10.0


def scrape(settings: Settings, *, headed: bool = False, record: Record | None = None) -> Snapshot:
    """Read the limits with the profile: the JSON endpoint first, asked from a JSON document of
    the site (no page of the app loads when it has every section); else the usage page, its
    text for what the endpoint lacks.

    A bot check shown to the headless shell is tried again once with Chrome, within the same
    deadline, and later runs use Chrome for a while (`shell.refuse`): the site may challenge
    the shell's fingerprint and not Chrome's.

    Raises LoggedOut (the page asks for a login) or ScrapeFailed (no browser, timeout, bot
    check, no usage section, no plan limits); debug files of the page are saved on failure.
    chromedriver is kept in `record` while it runs.
    """
    began = time.monotonic()
    progress.phase("starting the browser")
    browser = Browser(
        settings, headed=headed, seconds=settings.timeout, what="the browser phase", record=record
    )
    try:
        return _read(browser)
    except BotCheck:
        left = settings.timeout - (time.monotonic() - began)
        if browser.binary is None or not shell.is_shell(browser.binary) or left < RETRY_SECONDS:
            raise
        until = shell.refuse(settings)
        logger.warning(
            "the site showed the headless shell a bot check: trying again with Chrome, which "
            f"runs use until {until.astimezone():%Y-%m-%d}"
        )
    progress.phase("starting Chrome")
    again = dataclasses.replace(settings, timeout=left)
    return _read(
        Browser(again, headed=headed, seconds=left, what="the browser phase", record=record)
    )


def _read(browser: Browser) -> Snapshot:
    """One browser, from its start to its tear-down: the endpoint first, else the page."""
    tz = local_zone()
    with browser:
        progress.phase("loading the page")
        first = lean.endpoint_first(browser, tz=tz)
        if first.snapshot is not None:
            snapshot = first.snapshot
        else:
            lean.block_extras(browser)
            land(browser, browser.settings.usage_url)
            progress.phase("reading the usage")
            api = first.api if first.asked else read_api(browser, tz=tz)
            snapshot = read_usage(browser, tz=tz, api=api)
        log_origins(snapshot)
        progress.phase("closing the browser")
        logger.debug(
            f"browser: usage read {browser.elapsed():.2f} s after start ({snapshot.source})"
        )
        return snapshot
