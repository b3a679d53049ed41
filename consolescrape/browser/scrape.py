"""One reading of the limits in the browser: the endpoint first, else the usage page."""

from __future__ import annotations

import logging

from consolescrape import progress
from consolescrape.browser import lean
from consolescrape.browser.endpoint import read_api
from consolescrape.browser.session import Browser
from consolescrape.browser.usage_page import land, log_origins, read_usage
from consolescrape.children import Record
from consolescrape.config import Settings
from consolescrape.extract import local_zone
from consolescrape.model import Snapshot

logger = logging.getLogger(__name__)


def scrape(settings: Settings, *, headed: bool = False, record: Record | None = None) -> Snapshot:
    """Read the limits with the profile: the JSON endpoint first, asked from a JSON document of
    the site (no page of the app loads when it has every section); else the usage page, its
    text for what the endpoint lacks.

    Raises LoggedOut (the page asks for a login) or ScrapeFailed (no browser, timeout, bot
    check, no usage section, no plan limits); debug files of the page are saved on failure.
    chromedriver is kept in `record` while it runs.
    """
    tz = local_zone()
    progress.phase("starting the browser")
    with Browser(
        settings, headed=headed, seconds=settings.timeout, what="the browser phase", record=record
    ) as browser:
        progress.phase("loading the page")
        first = lean.endpoint_first(browser, tz=tz)
        if first.snapshot is not None:
            snapshot = first.snapshot
        else:
            lean.block_extras(browser)
            land(browser, settings.usage_url)
            progress.phase("reading the usage")
            api = first.api if first.asked else read_api(browser, tz=tz)
            snapshot = read_usage(browser, tz=tz, api=api)
        log_origins(snapshot)
        progress.phase("closing the browser")
        logger.debug(
            f"browser: usage read {browser.elapsed():.2f} s after start ({snapshot.source})"
        )
        return snapshot
