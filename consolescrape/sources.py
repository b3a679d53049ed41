"""Which way `run` reads the limits: the usage page in the browser (the default), Claude Code's
OAuth usage endpoint, or `auto` (the endpoint when a usable token exists, else the browser).

Either way the result is one Snapshot, saved, queued, synced and tracked the same; `via` in it
says which way was used.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from consolescrape import children, oauth
from consolescrape.config import Secret, Settings
from consolescrape.errors import LOGIN_ADVICE, LoggedOut
from consolescrape.model import Snapshot
from consolescrape.oauth.client import SECONDS

logger = logging.getLogger(__name__)

#: In `auto`, the endpoint may use at most this share of the browser-phase budget: the rest is
#: the browser's when it falls back.
AUTO_SHARE = 0.5


def scrape(
    settings: Settings,
    *,
    headed: bool = False,
    secrets: list[Secret],
    record: children.Record | None = None,
) -> Snapshot:
    """The limits, read the way CONSOLESCRAPE_SOURCE (or `run --source`) says, within the
    browser-phase budget (CONSOLESCRAPE_TIMEOUT). Any token read is added to `secrets`."""
    if settings.source == "browser":
        return _browser(settings, headed, record)
    began = time.monotonic()
    share = 1.0 if settings.source == "oauth" else AUTO_SHARE
    try:
        return oauth.read(settings, seconds=min(SECONDS, settings.timeout * share), secrets=secrets)
    except oauth.Unavailable as exc:
        if settings.source == "oauth":
            raise exc.error from None
        logger.info(f"oauth source not used: {exc.why}; reading the usage page in the browser")
    left = max(1.0, settings.timeout - (time.monotonic() - began))
    return _browser(dataclasses.replace(settings, timeout=left), headed, record)


def _browser(settings: Settings, headed: bool, record: children.Record | None) -> Snapshot:
    if not settings.profile.is_dir():
        # No profile means no login yet: say so without starting a browser for nothing.
        raise LoggedOut(
            f"not logged in yet: there is no browser profile at {settings.profile}",
            LOGIN_ADVICE,
        )
    # Here, not at the top: `run --source oauth` loads no Selenium.
    from consolescrape.browser.scrape import scrape

    return dataclasses.replace(scrape(settings, headed=headed, record=record), via="browser")
